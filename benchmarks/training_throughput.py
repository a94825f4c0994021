"""Training throughput: the dbt Python model `training_runs` vs a plain sentence-transformers script.

Both train the same LoRA settings on the same sample of `training_pairs`, side by side in one run,
on this machine's CPU (or GPU). Needs a built project (`make build`, or `make build
CORPUS=../shared/data` for real pairs). Prints the figures and writes
benchmarks/results/training_throughput.json.

    .venv/bin/python benchmarks/training_throughput.py --pairs 300 --max-seq-length 128 --repeats 2
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.ml.device import choose_device
from vectorfin.ml.runs import sample_pairs

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "training_throughput.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=2, help="alternating runs of each")
    args = parser.parse_args()

    settings = StateLocations.from_env()
    training = {
        "lora_r": 16,
        "lora_alpha": 32,
        "lora_dropout": 0.1,
        "learning_rate": 5e-5,
        "batch_size": args.batch_size,
        "max_seq_length": args.max_seq_length,
        "scale": 20.0,
        "seed": 42,
        "epochs": 1,
    }
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        all_pairs = connection.sql("select * from training_pairs").df()
    pairs = sample_pairs(all_pairs, args.pairs)

    plain_rates, dbt_rates, dbt_walls, run_ids = [], [], [], []
    with tempfile.TemporaryDirectory(prefix="vectorfin-throughput-") as scratch:
        pairs_file, settings_file = Path(scratch, "pairs.parquet"), Path(scratch, "settings.json")
        pairs.to_parquet(pairs_file)
        settings_file.write_text(json.dumps(training))
        # Alternate the two, so drift in the machine's speed hits both alike.
        for repeat in range(args.repeats):
            plain_rates.append(_plain_script_rate(pairs_file, settings_file))
            rate, wall_s, run_id = _dbt_model_rate(training, len(pairs), Path(scratch, f"artifacts-{repeat}"))
            dbt_rates.append(rate)
            dbt_walls.append(wall_s)
            run_ids.append(run_id)

    result = {
        "pairs": len(pairs),
        "settings": training,
        "device": choose_device().device,
        "repeats": args.repeats,
        "plain_script_pairs_per_second": [round(rate, 3) for rate in plain_rates],
        "dbt_model_pairs_per_second": [round(rate, 3) for rate in dbt_rates],
        "dbt_over_plain_ratio_of_medians": round(
            statistics.median(dbt_rates) / statistics.median(plain_rates), 3
        ),
        "dbt_command_wall_s": [round(wall, 1) for wall in dbt_walls],
        "dbt_run_ids": run_ids,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


def _plain_script_rate(pairs_file: Path, settings_file: Path) -> float:
    output = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("plain_st_training.py")), pairs_file, settings_file],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return float(json.loads(output.strip().splitlines()[-1])["pairs_per_second"])


def _dbt_model_rate(training: dict, n_pairs: int, artifacts: Path) -> tuple[float, float, str]:
    """Run the real `training_runs` model (fresh artifacts folder: it must train, not reuse)."""
    env = os.environ | {"VECTORFIN_ARTIFACTS": str(artifacts)}
    dbt_vars = json.dumps({"training": training | {"max_pairs": n_pairs}})
    started = time.perf_counter()
    subprocess.run(
        [str(Path(sys.executable).with_name("dbt")), "run", "--select", "training_runs", "--vars", dbt_vars],
        check=True,
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
    )
    wall_s = time.perf_counter() - started
    with duckdb.connect(str(StateLocations.from_env().duckdb_path), read_only=True) as connection:
        run_id, rate = connection.sql(
            "select run_id, pairs_per_second from training_runs order by built_at desc limit 1"
        ).fetchone()
    return float(rate), wall_s, run_id


if __name__ == "__main__":
    main()
