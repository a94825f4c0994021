"""How `dbt build` scales with the corpus: 25%, 50% and 100% of ../shared/data, each in its own warehouse.

    .venv/bin/python benchmarks/build_scaling.py                      # 0.25 0.5 1.0
    .venv/bin/python benchmarks/build_scaling.py --fractions 0.1 0.25 --workdir /tmp/scaling

Documents (calls, filings, filing documents) are sampled deterministically: a document is in the
fraction-f sample when md5('build_scaling|<dataset>|<document id>') / 2^32 < f, so the 25% sample is
inside the 50% one. The sampled files are written, in the shared layout, to a scratch folder outside the
project (never commit derived copies of the data); 100% loads ../shared/data itself. Each fraction is
loaded with `python -m vectorfin load` into a fresh warehouse and built with `dbt build` (the ML models,
`training_runs+`, excluded: they are timed by their own benchmarks). Reported per fraction: documents and
chunks loaded, load and build seconds, dbt's peak memory (max RSS of the dbt process), the slowest
models, pairs per strategy, training rows and quarantined chunks per reason. Results are printed and
written to benchmarks/results/build_scaling.json.
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

PROJECT_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(PROJECT_ROOT / "tests" / "python"))

from dbt_project_runner import DbtWorkspace, dbt_executable  # noqa: E402

DEFAULT_CORPUS = PROJECT_ROOT.parent / "shared" / "data"
RESULTS_FILE = PROJECT_ROOT / "benchmarks" / "results" / "build_scaling.json"
BUILD_ARGS = ["build", "--exclude", "training_runs+"]

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


def measure(fraction: float, corpus: Path, workdir: Path) -> dict[str, Any]:
    root = workdir / f"fraction_{round(fraction * 100):03d}"
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    if fraction >= 1.0:
        source, documents = corpus, sample_corpus(corpus, root / "corpus_counts_only", 1.0)
        shutil.rmtree(root / "corpus_counts_only", ignore_errors=True)
    else:
        source, documents = root / "corpus", sample_corpus(corpus, root / "corpus", fraction)
    workspace = DbtWorkspace.create(root)
    env = dict(workspace.env, DBT_TARGET_PATH=str(root / "target"), DBT_LOG_PATH=str(root / "logs"))

    code, _, _ = timed_process([sys.executable, "-m", "vectorfin", "init"], env, root / "init.log")
    if code:
        raise RuntimeError(f"vectorfin init failed, see {root / 'init.log'}")
    code, load_seconds, load_rss = timed_process(
        [sys.executable, "-m", "vectorfin", "load", str(source), "--quiet"], env, root / "load.log"
    )
    if code:
        raise RuntimeError(f"vectorfin load failed, see {root / 'load.log'}")
    code, build_seconds, build_rss = timed_process([*dbt_executable(), *BUILD_ARGS], env, root / "build.log")

    run_results = json.loads((root / "target" / "run_results.json").read_text())
    slowest = sorted(
        (
            (result["unique_id"].split(".")[-1], round(result["execution_time"], 2))
            for result in run_results["results"]
            if result["unique_id"].startswith("model.")
        ),
        key=lambda item: -item[1],
    )[:6]
    failures = [
        result["unique_id"] for result in run_results["results"] if result["status"] in {"error", "fail"}
    ]
    figures = workspace.query
    chunks = dict(
        figures(
            "select 'transcript', count(*) from stg_raw__transcript_chunks "
            "union all select 'filing', count(*) from stg_raw__filing_chunks"
        )
    )
    return {
        "fraction": fraction,
        "documents": documents,
        "raw_chunks": chunks,
        "curated_chunks": figures("select count(*) from int_chunks_curated")[0][0],
        "load_seconds": round(load_seconds, 1),
        "load_peak_rss_mib": round(load_rss),
        "build_exit_code": code,
        "build_failures": failures,
        "build_seconds": round(build_seconds, 1),
        "build_peak_rss_mib": round(build_rss),
        "slowest_models_seconds": dict(slowest),
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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.25, 0.5, 1.0])
    parser.add_argument("--corpus", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/vectorfin_build_scaling"))
    parser.add_argument("--output", type=Path, default=RESULTS_FILE)
    args = parser.parse_args(argv)

    runs = []
    for fraction in sorted(args.fractions):
        run = measure(fraction, args.corpus, args.workdir)
        runs.append(run)
        print(
            f"{fraction:>5.0%}: {sum(run['raw_chunks'].values()):>7} chunks, "
            f"load {run['load_seconds']:>6.1f} s, "
            f"dbt build {run['build_seconds']:>6.1f} s (exit {run['build_exit_code']}), "
            f"peak {run['build_peak_rss_mib']:>5} MiB, pairs {sum(run['pairs_per_strategy'].values()):>6}, "
            f"training rows {sum(run['training_rows_per_strategy'].values()):>6}",
            flush=True,
        )
    report = {
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
        "build_args": BUILD_ARGS,
        "runs": runs,
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=2))
    print(json.dumps(report, indent=2))
    print(f"written to {args.output}")
    return 0 if all(run["build_exit_code"] == 0 for run in runs) else 1


if __name__ == "__main__":
    sys.exit(main())
