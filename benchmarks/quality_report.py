"""The quality benchmark: the README's real-data CPU command, timed, its peak memory sampled, and its
retrieval table printed.

    .venv/bin/python benchmarks/quality_report.py            # runs the README's command, then reports
    .venv/bin/python benchmarks/quality_report.py --report   # only reports the last build's metrics

The command (README_COMMAND, the one the README gives for a CPU on all of ../shared/data) runs in the
project folder while the resident memory of its whole process tree is sampled twice a second; each
sample is placed in the dbt node that was running then (target/run_results.json's timings), so the
peak is reported per step (the load before dbt, each model and test). Then
`retrieval_metrics` gives NDCG@10 per model and eval set on the locked test part, with the tuned model's
gain over the base model (and its 95% interval), over each comparison model, the hybrid's over the
better of its sides, the 128-dim prefix against the whole vector, the STS Benchmark Spearman of both
(the forgetting guard) and the finance probes; `training_runs` gives the training budget. Everything is
printed and written to benchmarks/results/quality_report.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import threading
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import psutil

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.ml.labels import BASE_LABEL, BM25_LABEL, TEST_PART, TUNED_LABEL
from vectorfin.ml.memory import GIB

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "quality_report.json"
RUN_RESULTS = PROJECT_ROOT / "target" / "run_results.json"
# the steps a sample can fall in outside dbt's nodes
BEFORE_DBT = "load (before dbt's first node)"
BETWEEN_NODES = "dbt, between nodes"
# The README's real-data CPU command; tests/python/test_docs_commands.py checks the README carries it.
README_COMMAND = (
    "make build CORPUS=../shared/data "
    'DBT_ARGS="--exclude chunk_embeddings+ '
    "--vars '{training: {max_pairs: 4000, max_seq_length: 128}, tatqa_training: true}'\""
)
OWN_LABELS = (
    BASE_LABEL,
    TUNED_LABEL,
    BM25_LABEL,
    f"{BASE_LABEL}+{BM25_LABEL}",
    f"{TUNED_LABEL}+{BM25_LABEL}",
)


def run_with_memory_samples(command: str) -> tuple[int, float, list[tuple[datetime, int]]]:
    """Run `command` in the project folder; return its exit code, wall seconds and the resident memory
    (bytes) of its whole process tree, sampled every 0.5 s with the UTC time of each sample."""
    started = time.perf_counter()
    process = subprocess.Popen(shlex.split(command), cwd=PROJECT_ROOT)
    samples: list[tuple[datetime, int]] = []
    done = threading.Event()

    def sample() -> None:
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                samples.append((datetime.now(UTC), sum(_rss(member) for member in tree)))
            except psutil.NoSuchProcess:
                pass
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode = process.wait()
    done.set()
    sampler.join()
    return returncode, time.perf_counter() - started, samples


def node_name(unique_id: str) -> str:
    """`model.<project>.training_runs` -> `training_runs`; a data test's id ends in a hash, left out."""
    kind, _project, *rest = unique_id.split(".")
    return rest[0] if kind == "test" else ".".join(rest)


def node_intervals(run_results: dict[str, Any]) -> list[tuple[str, datetime, datetime]]:
    """(node name, start, end) of each node's execution in a dbt run_results.json, in start order."""
    intervals = []
    for result in run_results["results"]:
        for timing in result["timing"]:
            if timing["name"] == "execute" and timing.get("started_at") and timing.get("completed_at"):
                intervals.append(
                    (
                        node_name(result["unique_id"]),
                        datetime.fromisoformat(timing["started_at"]).replace(tzinfo=UTC),
                        datetime.fromisoformat(timing["completed_at"]).replace(tzinfo=UTC),
                    )
                )
    return sorted(intervals, key=lambda interval: interval[1])


def peaks_by_step(
    samples: list[tuple[datetime, int]], intervals: list[tuple[str, datetime, datetime]]
) -> dict[str, float]:
    """Peak memory (GiB) per step, largest first: each sample falls in the node that was executing at its
    time, in the load before dbt's first node, or between nodes (dbt's parsing, hooks, compiling)."""
    first_start = intervals[0][1] if intervals else None
    peaks: dict[str, int] = {}
    for at, rss in samples:
        if first_start is None or at < first_start:
            step = BEFORE_DBT
        else:
            step = next((name for name, start, end in intervals if start <= at <= end), BETWEEN_NODES)
        peaks[step] = max(peaks.get(step, 0), rss)
    ordered = sorted(peaks.items(), key=lambda item: item[1], reverse=True)
    return {step: round(rss / GIB, 2) for step, rss in ordered}


def read_intervals(since: float, path: Path = RUN_RESULTS) -> list[tuple[str, datetime, datetime]]:
    """The node intervals of `path` when it was written after `since` (a time.time()), else none: a
    command that stopped before dbt wrote its results must not be given an earlier run's."""
    if not path.exists() or path.stat().st_mtime < since:
        return []
    return node_intervals(json.loads(path.read_text()))


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def quality_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """NDCG@10 (Spearman for stsb) per eval set and model on the locked test part, with the comparisons the
    quality targets name: tuned vs base (and the 95% paired bootstrap interval of the difference), tuned
    vs each comparison model, the hybrid vs the better of its two sides, the 128-dim prefix vs the whole
    vector."""
    test = metrics[metrics["metric"].isin(["ndcg@10", "spearman"]) & (metrics["eval_part"] == TEST_PART)]
    table = test.pivot_table(index="eval_set", columns="model", values="value", aggfunc="first")
    if {"tuned", "base"} <= set(table.columns):
        table["tuned_vs_base_%"] = 100 * (table["tuned"] / table["base"] - 1)
        tuned = test[test["model"] == "tuned"].set_index("eval_set")
        table["tuned_minus_base_ci"] = [
            f"[{low:+.4f}, {high:+.4f}]" if pd.notna(low) else ""
            for low, high in zip(
                tuned["vs_base_ci_low"].reindex(table.index),
                tuned["vs_base_ci_high"].reindex(table.index),
                strict=True,
            )
        ]
    for compared in sorted(set(table.columns) - set(OWN_LABELS) - {"tuned_vs_base_%", "tuned_minus_base_ci"}):
        if "@" not in compared and "+" not in compared and "tuned" in table:
            table[f"tuned_vs_{compared}_%"] = 100 * (table["tuned"] / table[compared] - 1)
    if {"tuned+bm25", "tuned", "bm25"} <= set(table.columns):
        table["hybrid_vs_best_side_%"] = 100 * (
            table["tuned+bm25"] / table[["tuned", "bm25"]].max(axis=1) - 1
        )
    if {"tuned@128", "tuned"} <= set(table.columns):
        table["tuned@128_vs_full_%"] = 100 * (table["tuned@128"] / table["tuned"] - 1)
    n_queries = test[test["model"] == "base"].set_index("eval_set")["n_queries"]
    table.insert(0, "test_queries", n_queries.reindex(table.index))
    return table.round(4)


def report(command_result: dict[str, Any] | None) -> dict[str, Any]:
    with duckdb.connect(str(StateLocations.from_env().duckdb_path), read_only=True) as connection:
        metrics = connection.sql("select * from retrieval_metrics").df()
        run = connection.sql(
            "select run_id, n_train_pairs, steps, duration_s, pairs_per_second, device, config, reused "
            "from training_runs order by built_at desc limit 1"
        ).df()
        queries = connection.sql("select eval_set, count(*) as n from eval_queries group by 1").df()
    table = quality_table(metrics)
    config = json.loads(run["config"].iloc[0])
    budget = {
        "run_id": run["run_id"].iloc[0],
        "training_pairs": int(run["n_train_pairs"].iloc[0]),
        "kept_strategies_passes": config["kept_strategies_passes"],
        "batch_size": config["batch_size"],
        "epochs": config["epochs"],
        "steps": int(run["steps"].iloc[0]),
        "training_minutes": round(float(run["duration_s"].iloc[0]) / 60, 1),
        "examples_per_second": float(run["pairs_per_second"].iloc[0]),
        "max_seq_length": config["max_seq_length"],
        "learning_rate": config["learning_rate"],
        "device": run["device"].iloc[0],
        "reused": bool(run["reused"].iloc[0]),
    }
    result = {
        "command": command_result,
        "training": budget,
        "eval_queries": dict(zip(queries["eval_set"], queries["n"].astype(int), strict=True)),
        "table": table.reset_index().to_dict(orient="records"),
        "metrics": metrics.to_dict(orient="records"),
    }
    print(table.to_string())
    print(json.dumps({"command": command_result, "training": budget}, indent=2))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--report", action="store_true", help="only report the last build's metrics")
    parser.add_argument(
        "--command", default=README_COMMAND, help="default: the README's real-data CPU command"
    )
    args = parser.parse_args()
    command_result = None
    if not args.report:
        started = time.time()
        returncode, wall_s, samples = run_with_memory_samples(args.command)
        steps = peaks_by_step(samples, read_intervals(since=started))
        command_result = {
            "command": args.command,
            "returncode": returncode,
            "wall_minutes": round(wall_s / 60, 1),
            "peak_rss_gib": max(steps.values(), default=0.0),
            "peak_during": next(iter(steps), None),
            # the five steps that needed most memory
            "peak_rss_gib_by_step": dict(list(steps.items())[:5]),
        }
        if returncode != 0:
            print(json.dumps(command_result, indent=2))
            raise SystemExit(f"the command failed with exit code {returncode}")
    result = report(command_result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
