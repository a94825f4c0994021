"""Peak memory and speed of a training step: plain MNRL vs GradCache mini-batches vs gradient checkpointing.

Each variant trains a few real steps with the project's own `train_model` on a sample of the built
project's `training_pairs`, in a fresh subprocess, so its peak RSS is its own. Also prints what
`vectorfin.ml.memory` estimates for each, so the estimate's coefficients can be checked against the
measurement. Needs a built project (`make build CORPUS=../shared/data DBT_ARGS="--exclude training_runs+"`).

    .venv/bin/python benchmarks/training_memory.py                # every variant, 2 steps each
    .venv/bin/python benchmarks/training_memory.py --steps 3 --only gradcache_b32_mb16
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.memory import GIB, estimate_training_memory
from vectorfin.ml.runs import sample_pairs
from vectorfin.ml.training import train_model

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "training_memory.json"
# name -> training settings; every variant uses 256 word pieces unless it says otherwise.
VARIANTS: dict[str, dict[str, Any]] = {
    "mnrl_b8": {"batch_size": 8, "mini_batch_size": None},
    "mnrl_b16": {"batch_size": 16, "mini_batch_size": None},
    "checkpointing_b16": {"batch_size": 16, "mini_batch_size": None, "gradient_checkpointing": True},
    "gradcache_b32_mb8": {"batch_size": 32, "mini_batch_size": 8},
    "gradcache_b32_mb16": {"batch_size": 32, "mini_batch_size": 16},
    "gradcache_b32_mb32": {"batch_size": 32, "mini_batch_size": 32},
    "gradcache_b128_mb16": {"batch_size": 128, "mini_batch_size": 16},
    "gradcache_b32_mb16_len128": {"batch_size": 32, "mini_batch_size": 16, "max_seq_length": 128},
}


def run_child(settings: dict[str, Any], pairs_file: Path) -> dict[str, Any]:
    """Train in this process (the child) and report peak RSS and speed."""
    import pandas as pd

    steps = settings.pop("steps")
    config = TrainingConfig.from_mapping({"max_seq_length": 256, **settings})
    pairs = pd.read_parquet(pairs_file).head(config.batch_size * steps)
    with tempfile.TemporaryDirectory(prefix="vectorfin-memory-") as scratch:
        started = time.perf_counter()
        result = train_model(pairs, config, Path(scratch, "model"), device="cpu")
        wall = time.perf_counter() - started
    return {
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB,
        "steps": result.steps,
        "train_s": result.duration_s,
        "examples_per_s": result.pairs_per_second,
        "wall_s": round(wall, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2, help="training steps per variant")
    parser.add_argument("--only", nargs="*", choices=sorted(VARIANTS), help="default: every variant")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    parser.add_argument("--pairs-file", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_child(json.loads(args.child), args.pairs_file)))
        return

    with duckdb.connect(str(StateLocations.from_env().duckdb_path), read_only=True) as connection:
        pairs = connection.sql("select * from training_pairs").df()
    rows = []
    with tempfile.TemporaryDirectory(prefix="vectorfin-memory-pairs-") as scratch:
        pairs_file = Path(scratch, "pairs.parquet")
        sample_pairs(pairs, 128 * args.steps).to_parquet(pairs_file)
        for name in args.only or VARIANTS:
            settings = {**VARIANTS[name], "steps": args.steps}
            completed = subprocess.run(
                [sys.executable, __file__, "--child", json.dumps(settings), "--pairs-file", str(pairs_file)],
                capture_output=True,
                text=True,
                check=False,
            )
            if completed.returncode != 0:
                print(f"{name}: failed\n{completed.stderr[-2000:]}", flush=True)
                continue
            measured = json.loads(completed.stdout.strip().splitlines()[-1])
            config = TrainingConfig.from_mapping({"max_seq_length": 256, **VARIANTS[name]})
            estimate = estimate_training_memory(config)
            row = {
                "variant": name,
                **VARIANTS[name],
                "sequences_in_memory": config.sequences_in_memory,
                **measured,
                "estimated_gib": round(estimate.total_bytes / GIB, 2),
            }
            rows.append(row)
            print(json.dumps(row), flush=True)

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"steps": args.steps, "variants": rows}, indent=2))
    print(f"\n{'variant':28} {'seqs':>5} {'peak GiB':>9} {'est GiB':>8} {'ex/s':>6}")
    for row in rows:
        print(
            f"{row['variant']:28} {row['sequences_in_memory']:>5} {row['peak_rss_gib']:>9.2f} "
            f"{row['estimated_gib']:>8.2f} {row['examples_per_s']:>6.2f}"
        )


if __name__ == "__main__":
    main()
