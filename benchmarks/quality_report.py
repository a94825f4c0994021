"""The quality benchmark: the README's real-data CPU command, timed, its peak memory sampled, and its
retrieval table printed.

    .venv/bin/python benchmarks/quality_report.py            # runs the README's command, then reports
    .venv/bin/python benchmarks/quality_report.py --report   # only reports the last build's metrics

The command (README_COMMAND, the one the README gives for a CPU on all of ../shared/data) runs in the
project folder while the resident memory of its whole process tree is sampled twice a second. Then
`retrieval_metrics` gives NDCG@10 per model and eval set, with the tuned model's gain over the base
model and the hybrid's over BM25, the STS Benchmark Spearman of both (the forgetting guard) and the
finance probes; `training_runs` gives the training budget. Everything is printed and written to
benchmarks/results/quality_report.json.
"""

from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import threading
import time
from typing import Any

import duckdb
import pandas as pd
import psutil

from vectorfin.config import PROJECT_ROOT, Settings

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "quality_report.json"
# The README's real-data CPU command; tests/python/test_docs_commands.py checks the README carries it.
README_COMMAND = (
    "make build CORPUS=../shared/data "
    'DBT_ARGS="--exclude chunk_embeddings+ '
    "--vars '{training: {max_pairs: 4000, max_seq_length: 128}, tatqa_training: true}'\""
)
MAIN_SETS = ("heldout_pairs", "tatqa_dev", "convfinqa_dev")


def run_with_peak_memory(command: str) -> tuple[int, float, float]:
    """Run `command` in the project folder; return its exit code, wall seconds and peak RSS (GiB) of
    its whole process tree, sampled every 0.5 s."""
    started = time.perf_counter()
    process = subprocess.Popen(shlex.split(command), cwd=PROJECT_ROOT)
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        root = psutil.Process(process.pid)
        while not done.is_set():
            try:
                tree = [root, *root.children(recursive=True)]
                peak = max(peak, sum(_rss(member) for member in tree))
            except psutil.NoSuchProcess:
                pass
            done.wait(0.5)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    returncode = process.wait()
    done.set()
    sampler.join()
    return returncode, time.perf_counter() - started, peak / 1024**3


def _rss(process: psutil.Process) -> int:
    try:
        return process.memory_info().rss
    except psutil.NoSuchProcess:
        return 0


def quality_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """NDCG@10 (Spearman for stsb) per eval set and model, with the two gains the issue asks for."""
    scores = metrics[metrics["metric"].isin(["ndcg@10", "spearman"])]
    table = scores.pivot_table(index="eval_set", columns="model", values="value", aggfunc="first")
    if {"tuned", "base"} <= set(table.columns):
        table["tuned_vs_base_%"] = 100 * (table["tuned"] / table["base"] - 1)
    if {"tuned+bm25", "bm25"} <= set(table.columns):
        table["hybrid_vs_bm25_%"] = 100 * (table["tuned+bm25"] / table["bm25"] - 1)
    return table.round(4)


def report(command_result: dict[str, Any] | None) -> dict[str, Any]:
    with duckdb.connect(str(Settings.from_env().duckdb_path), read_only=True) as connection:
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
        returncode, wall_s, peak_gib = run_with_peak_memory(args.command)
        command_result = {
            "command": args.command,
            "returncode": returncode,
            "wall_minutes": round(wall_s / 60, 1),
            "peak_rss_gib": round(peak_gib, 2),
        }
        if returncode != 0:
            print(json.dumps(command_result, indent=2))
            raise SystemExit(f"the command failed with exit code {returncode}")
    result = report(command_result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2, default=str))


if __name__ == "__main__":
    main()
