"""Data-parallel training launched by torchrun: 2 CPU processes (gloo) on tiny data.

Real torchrun, a real process group, the project's training code: both ranks train their half of
every batch, process zero alone writes the artifact and the checkpoint, the artifact loads, and the
project's single-process training (what the dbt model training_runs calls) then reuses it.
"""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_pairs import revenue_pairs

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import project_environment
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.runs import train
from vectorfin.ml.training import RESULT_MARKER, load_trained_model, read_training_result

PAIRS = revenue_pairs(8)
TRAINING = {"batch_size": 2, "max_seq_length": 32, "lora_r": 4, "lora_alpha": 8, "mini_batch_size": None}
PROCESSES = 2


def _free_loopback_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.slow
def test_two_gloo_processes_train_one_model_that_training_runs_reuses(tmp_path: Path):
    pairs_file = tmp_path / "pairs.parquet"
    PAIRS.to_parquet(pairs_file)
    artifacts = tmp_path / "artifacts"
    logs = tmp_path / "logs"
    env = project_environment(
        {
            **{
                key: value for key, value in project_environment().items() if not key.startswith("VECTORFIN_")
            },
            "VECTORFIN_ARTIFACTS": str(artifacts),
            "VECTORFIN_WAREHOUSE": str(tmp_path / "warehouse"),
            "VECTORFIN_DUCKDB_PATH": str(tmp_path / "unused.duckdb"),
        }
    )
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "torch.distributed.run",
            f"--nproc_per_node={PROCESSES}",
            "--master_addr=127.0.0.1",
            f"--master_port={_free_loopback_port()}",
            f"--log-dir={logs}",
            "--redirects=3",
            "-m",
            "vectorfin.scale.train_ddp",
            "--pairs",
            str(pairs_file),
            "--training",
            json.dumps(TRAINING),
            "--device",
            "cpu",
        ],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    launcher_output = completed.stdout + completed.stderr
    assert completed.returncode == 0, launcher_output[-6000:]

    # each rank's stdout and stderr in a file of its own (torchrun --redirects): two processes writing
    # to one pipe can run their lines together
    rank_outputs = {
        rank: "".join(
            path.read_text(errors="replace") for path in sorted(logs.glob(f"**/attempt_0/{rank}/*.log"))
        )
        for rank in range(PROCESSES)
    }
    output = "".join(rank_outputs.values())

    # both ranks ran in one gloo group, each on its half: 8 pairs / (2 per batch x 2 processes) = 2 steps
    done = {
        rank: re.search(rf"train_ddp: rank {rank} of {PROCESSES} done: ([^\n]*)", text)
        for rank, text in rank_outputs.items()
    }
    assert all(done.values()), output[-6000:]
    done_lines = [match.group(1) for match in done.values() if match]
    assert all(f"process group gloo of {PROCESSES}, device cpu, 2 steps" in line for line in done_lines), (
        done_lines
    )

    # one artifact, written once (by process zero), checkpoints included
    folders = [path for path in artifacts.iterdir() if not path.name.startswith(".")]
    assert len(folders) == 1
    assert all(f"artifact {folders[0]}" in line for line in done_lines)
    assert output.count(", saved to ") == 1
    assert output.count("Saving model checkpoint to") == 1
    result = read_training_result(folders[0])
    assert (result.steps, result.n_train_pairs, result.device) == (2, 8, "cpu")
    assert load_trained_model(folders[0]).encode(["revenue"]).shape == (1, 384)

    # the dbt model's training (one process) finds the artifact complete and reuses it
    row = train(PAIRS, TrainingConfig.from_mapping(TRAINING), artifacts, device="cpu").iloc[0]
    assert bool(row["reused"])
    assert row["artifact_path"] == str(folders[0])
    assert (folders[0] / RESULT_MARKER).is_file()
