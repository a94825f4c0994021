"""How `dbt build` scales with the corpus: 25%, 50% and 100% of ../shared/data, each in its own warehouse.

    .venv/bin/python benchmarks/build_scaling.py                      # 0.25 0.5 1.0, +5% incremental day
    .venv/bin/python benchmarks/build_scaling.py --fractions 0.1 0.25 --workdir /tmp/scaling --increment 0

Documents (calls, filings, filing documents) are sampled deterministically: a document is in the
fraction-f sample when md5('build_scaling|<dataset>|<document id>') / 2^32 < f, so the 25% sample is
inside the 50% one. The sampled files are written, in the shared layout, to a scratch folder outside the
project (never commit derived copies of the data); 100% loads ../shared/data itself. Each fraction is
loaded with `python -m vectorfin load` into a fresh warehouse and built step by step (the ML models,
`training_runs+`, excluded: they are timed by their own benchmarks): one dbt process per model group
(BUILD_STEPS: seeds, staging, curation, pairs, splits and negatives, marts and the gate, tests), so each
step's wall time and peak memory (max RSS of its dbt process, DuckDB included) are its own. Reported per
fraction: documents and chunks loaded, load and step seconds and peak memory, every model's time (dbt's
run_results.json), the machine's load average around each step (the machine may be shared), pairs per
strategy, training rows and quarantined chunks per reason.

The incremental day (`--increment`, default 0.05, on the largest fraction): that fraction less the share
is loaded and built first, then the rest is loaded (the new documents) and the same steps run again,
incrementally; then `--full-refresh` gives the fraction's full figures on the same warehouse. Results
are printed and written to benchmarks/results/build_scaling.json.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import duckdb

from vectorfin.dbt_workspace import DbtWorkspace, dbt_executable

PROJECT_ROOT = Path(__file__).resolve().parents[1]

DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "data"
RESULTS_FILE = PROJECT_ROOT / "benchmarks" / "results" / "build_scaling.json"
ML_MODELS = ["--exclude", "training_runs+"]
# `dbt build --exclude training_runs+` in dependency order, one dbt process per model group:
# (step, dbt arguments). `run` steps take --full-refresh when a full build is asked for.
BUILD_STEPS: list[tuple[str, list[str]]] = [
    ("seeds", ["seed"]),
    ("staging", ["run", "--select", "path:models/staging"]),
    ("curation", ["run", "--select", "path:models/intermediate/curation"]),
    (
        "pairs",
        [
            "run",
            "--select",
            "path:models/intermediate/labelled",
            "path:models/intermediate/pair_strategies",
            "int_chunk_risk_factor_matches",
            "int_pairs_unioned",
        ],
    ),
    (
        "splits_negatives",
        [
            "run",
            "--select",
            "path:models/intermediate/splits",
            "int_chunk_rare_terms",
            "path:models/intermediate/negatives",
            "int_pairs_with_hard_negatives",
        ],
    ),
    ("marts", ["run", "--select", "path:models/marts", "training_pairs_quality_gate", *ML_MODELS]),
    ("tests", ["test", *ML_MODELS]),
]

# dataset folder -> (files keyed by document: {file stem: key column}, the key's name for hashing)
PARQUET_DATASETS = {
    "transcripts/ectsum": {"calls": "call_id"},
    "transcripts/speaker_turns": {"calls": "call_id", "turns": "call_id"},
    "transcripts/maec": {"calls": "call_id", "sentences": "call_id"},
    "filings/filing_pages": {"pages": "doc_name"},
}
JSONL_DATASETS = {
    "filings/edgar_10k": {"filings_10k": ("cik", "filing_date")},
    "filings/filing_pages": {"documents": ("doc_name",)},
}


def in_sample(dataset: str, key: str, fraction: float) -> bool:
    digest = hashlib.md5(f"build_scaling|{dataset}|{key}".encode()).hexdigest()
    return int(digest[:8], 16) / 2**32 < fraction


def sample_corpus(source: Path, target: Path, fraction: float) -> dict[str, int]:
    """Write the fraction's documents of `source` to `target` (same layout); documents per dataset."""
    counts: dict[str, int] = {}
    connection = duckdb.connect()
    connection.create_function(
        "in_sample", lambda dataset, key: in_sample(dataset, key, fraction), [str, str], bool
    )
    for dataset, files in PARQUET_DATASETS.items():
        for stem, key in files.items():
            path = source / dataset / f"{stem}.parquet"
            if not path.exists():
                continue
            (target / dataset).mkdir(parents=True, exist_ok=True)
            relation = f"read_parquet('{path}') where in_sample('{dataset}', cast({key} as varchar))"
            connection.execute(
                f"copy (select * from {relation}) to '{target / dataset / path.name}' (format parquet)"
            )
            counts[f"{dataset}/{stem}"] = connection.execute(
                f"select count(distinct {key}) from {relation}"
            ).fetchone()[0]
    for dataset, files in JSONL_DATASETS.items():
        for stem, keys in files.items():
            path = source / dataset / f"{stem}.jsonl"
            if not path.exists():
                continue
            (target / dataset).mkdir(parents=True, exist_ok=True)
            kept = 0
            with (
                path.open(encoding="utf-8") as lines,
                (target / dataset / path.name).open("w", encoding="utf-8") as out,
            ):
                for line in lines:
                    if not line.strip():
                        continue
                    record = json.loads(line)
                    if in_sample(dataset, "|".join(str(record.get(key)) for key in keys), fraction):
                        out.write(line if line.endswith("\n") else line + "\n")
                        kept += 1
            counts[f"{dataset}/{stem}"] = kept
    return counts


def timed_process(command: list[str], env: dict[str, str], log: Path) -> tuple[int, float, float]:
    """Run `command`; (exit code, wall seconds, peak RSS in MiB of that process)."""
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            command, cwd=PROJECT_ROOT, env=env, stdout=output, stderr=subprocess.STDOUT
        )
        _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return process.returncode, time.perf_counter() - started, usage.ru_maxrss / 1024


def run_steps(env: dict[str, str], root: Path, label: str, full_refresh: bool = False) -> dict[str, Any]:
    """BUILD_STEPS in order; per step wall seconds, dbt's node seconds, peak RSS and the load average
    before and after; every model's seconds. Stops at the first failing step."""
    steps: dict[str, Any] = {}
    models: dict[str, float] = {}
    failures: list[str] = []
    for step, args in BUILD_STEPS:
        args = [*args, "--full-refresh"] if full_refresh and args[0] in {"run", "seed"} else args
        target = root / f"target_{label}_{step}"
        step_env = dict(env, DBT_TARGET_PATH=str(target), DBT_LOG_PATH=str(root / "logs"))
        load_before = os.getloadavg()[0]
        code, seconds, rss = timed_process([*dbt_executable(), *args], step_env, root / f"{label}_{step}.log")
        results = json.loads((target / "run_results.json").read_text())["results"]
        for result in results:
            if result["unique_id"].startswith("model."):
                models[result["unique_id"].split(".")[-1]] = round(result["execution_time"], 2)
        failures += [result["unique_id"] for result in results if result["status"] in {"error", "fail"}]
        steps[step] = {
            "wall_seconds": round(seconds, 1),
            "node_seconds": round(sum(result["execution_time"] for result in results), 1),
            "peak_rss_mib": round(rss),
            "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)],
            "exit_code": code,
        }
        if code:
            break
    return {
        "steps": steps,
        "models_seconds": dict(sorted(models.items(), key=lambda item: -item[1])),
        "build_seconds": round(sum(step["wall_seconds"] for step in steps.values()), 1),
        "build_peak_rss_mib": max(step["peak_rss_mib"] for step in steps.values()),
        "build_exit_code": max(step["exit_code"] for step in steps.values()),
        "build_failures": failures,
    }


def load(env: dict[str, str], root: Path, corpus: Path, label: str) -> tuple[float, float]:
    code, seconds, rss = timed_process(
        [sys.executable, "-m", "vectorfin", "load", str(corpus), "--quiet"], env, root / f"load_{label}.log"
    )
    if code:
        raise RuntimeError(f"vectorfin load failed, see {root / f'load_{label}.log'}")
    return seconds, rss


def measure(fraction: float, corpus: Path, workdir: Path, increment: float = 0.0) -> dict[str, Any]:
    root = workdir / f"fraction_{round(fraction * 100):03d}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if fraction >= 1.0:
        source, documents = corpus, sample_corpus(corpus, root / "corpus_counts_only", 1.0)
        shutil.rmtree(root / "corpus_counts_only", ignore_errors=True)
    else:
        source, documents = root / "corpus", sample_corpus(corpus, root / "corpus", fraction)
    workspace = DbtWorkspace.create(root)
    env = workspace.env

    code, _, _ = timed_process([sys.executable, "-m", "vectorfin", "init"], env, root / "init.log")
    if code:
        raise RuntimeError(f"vectorfin init failed, see {root / 'init.log'}")
    incremental = None
    if increment > 0:
        base = root / "corpus_base"
        sample_corpus(corpus, base, fraction - increment)
        base_load_seconds, _ = load(env, root, base, "base")
        base_build = run_steps(env, root, "base")
        chunks_before = _raw_chunks(workspace)
        load_seconds, load_rss = load(env, root, source, "increment")
        incremental = {
            "share": increment,
            "base_load_seconds": round(base_load_seconds, 1),
            "base_build_seconds": base_build["build_seconds"],
            "chunks_before": chunks_before,
            "load_seconds": round(load_seconds, 1),
        }
        incremental.update(run_steps(env, root, "incremental"))
        incremental["chunks_after"] = _raw_chunks(workspace)  # staged by the incremental build
        fingerprints = workspace.table_fingerprints()
        build = run_steps(env, root, "full", full_refresh=True)
        refreshed = workspace.table_fingerprints()
        incremental["tables_unlike_full_refresh"] = sorted(
            name
            for name in set(fingerprints) | set(refreshed)
            if fingerprints.get(name) != refreshed.get(name)
        )
        load_seconds = None  # this warehouse was loaded in two parts
    else:
        load_seconds, load_rss = load(env, root, source, "full")
        build = run_steps(env, root, "full")

    figures = workspace.query
    return {
        "fraction": fraction,
        "documents": documents,
        "raw_chunks": _raw_chunks(workspace),
        "curated_chunks": figures("select count(*) from int_chunks_curated")[0][0],
        "load_seconds": None if load_seconds is None else round(load_seconds, 1),
        "load_peak_rss_mib": round(load_rss),
        **build,
        "incremental_day": incremental,
        "pairs_per_strategy": dict(
            figures("select strategy, count(*) from int_pairs_unioned group by 1 order by 1")
        ),
        "pair_split_status": dict(
            figures("select split_status, count(*) from int_pairs_split group by 1 order by 2 desc")
        ),
        "training_rows_per_strategy": dict(
            figures("select strategy, count(*) from training_pairs group by 1 order by 1")
        ),
        "negative_rules": dict(
            figures("select negative_rule, count(*) from training_pairs group by 1 order by 2 desc")
        ),
        "rejected_per_reason": dict(
            figures("select reason, count(*) from rejected_chunks group by 1 order by 2 desc")
        ),
        "eval_queries_per_set": dict(
            figures("select eval_set, count(*) from eval_queries group by 1 order by 1")
        ),
    }


def _raw_chunks(workspace: DbtWorkspace) -> dict[str, int]:
    return dict(
        workspace.query(
            "select 'transcript', count(*) from stg_raw__transcript_chunks "
            "union all select 'filing', count(*) from stg_raw__filing_chunks"
        )
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vectorfin_build_scaling"))
    parser.add_argument("--output", type=Path, default=RESULTS_FILE)
    parser.add_argument(
        "--increment",
        type=float,
        default=0.05,
        help="share of the largest fraction loaded as a new day and built incrementally (0: none)",
    )
    args = parser.parse_args(argv)

    runs = []
    fractions = sorted(args.fractions)
    for fraction in fractions:
        run = measure(
            fraction, args.corpus, args.workdir, args.increment if fraction == fractions[-1] else 0.0
        )
        runs.append(run)
        steps = ", ".join(
            f"{step} {figures['wall_seconds']} s / {figures['peak_rss_mib']} MiB"
            for step, figures in run["steps"].items()
        )
        print(
            f"{fraction:>5.0%}: {sum(run['raw_chunks'].values()):>7} chunks, load {run['load_seconds']} s, "
            f"build {run['build_seconds']:>6.1f} s (exit {run['build_exit_code']}), "
            f"peak {run['build_peak_rss_mib']:>5} MiB ({steps}), "
            f"pairs {sum(run['pairs_per_strategy'].values())}",
            flush=True,
        )
        if run["incremental_day"]:
            day = run["incremental_day"]
            print(
                f"       incremental day (+{day['share']:.0%} of documents): load {day['load_seconds']} s, "
                f"build {day['build_seconds']} s, peak {day['build_peak_rss_mib']} MiB, tables unlike a "
                f"full refresh: {day['tables_unlike_full_refresh'] or 'none'}",
                flush=True,
            )
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "build_steps": BUILD_STEPS,
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"written to {args.output}")
    return 0 if all(run["build_exit_code"] == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
