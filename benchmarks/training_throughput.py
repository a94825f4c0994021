"""Training throughput: the dbt Python model `training_runs` vs a plain sentence-transformers script.

Both train the same LoRA settings on the same sample of `training_pairs`, side by side in one run,
on this machine's CPU (or GPU). Needs a built project (`make build`, or `make build
CORPUS=../shared/data` for real pairs). Prints the figures and writes
benchmarks/results/training_throughput.json.

    .venv/bin/python benchmarks/training_throughput.py --pairs 300 --max-seq-length 128
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

from vectorfin.config import PROJECT_ROOT, Settings
from vectorfin.ml.runs import sample_pairs

RESULTS = PROJECT_ROOT / "benchmarks" / "results" / "training_throughput.json"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--pairs", type=int, default=300)
    parser.add_argument("--max-seq-length", type=int, default=128)
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()

    settings = Settings.from_env()
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

    with tempfile.TemporaryDirectory(prefix="vectorfin-throughput-") as scratch:
        pairs_file, settings_file = Path(scratch, "pairs.parquet"), Path(scratch, "settings.json")
        pairs.to_parquet(pairs_file)
        settings_file.write_text(json.dumps(training))
        plain_output = subprocess.run(
            [
                sys.executable,
                str(Path(__file__).with_name("plain_st_training.py")),
                pairs_file,
                settings_file,
            ],
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        plain = json.loads(plain_output.strip().splitlines()[-1])

        env = os.environ | {"VECTORFIN_ARTIFACTS": str(Path(scratch, "artifacts"))}
        dbt_vars = json.dumps({"training": training | {"max_pairs": args.pairs}})
        started = time.perf_counter()
        subprocess.run(
            [
                str(Path(sys.executable).with_name("dbt")),
                "run",
                "--select",
                "training_runs",
                "--vars",
                dbt_vars,
            ],
            check=True,
            cwd=PROJECT_ROOT,
            env=env,
        )
        dbt_wall_s = time.perf_counter() - started
    with duckdb.connect(str(settings.duckdb_path), read_only=True) as connection:
        run = (
            connection.sql(
                "select run_id, n_train_pairs, duration_s, pairs_per_second, device "
                "from training_runs order by built_at desc limit 1"
            )
            .df()
            .iloc[0]
        )

    result = {
        "pairs": len(pairs),
        "settings": training,
        "device": run["device"],
        "plain_script_pairs_per_second": round(plain["pairs_per_second"], 3),
        "dbt_model_pairs_per_second": round(float(run["pairs_per_second"]), 3),
        "dbt_over_plain_ratio": round(float(run["pairs_per_second"]) / plain["pairs_per_second"], 3),
        "plain_train_loop_s": round(plain["seconds"], 2),
        "dbt_train_loop_s": float(run["duration_s"]),
        "dbt_command_wall_s": round(dbt_wall_s, 2),
        "dbt_run_id": run["run_id"],
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
