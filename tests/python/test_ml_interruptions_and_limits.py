"""Training that survives a kill -9, refuses settings the machine cannot hold, and reports progress."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from safetensors.numpy import load_file
from tiny_pairs import revenue_pairs

from vectorfin.config.training import TrainingConfig
from vectorfin.ml.memory import (
    GIB,
    TrainingMemoryError,
    check_training_fits,
    estimate_training_memory,
)
from vectorfin.ml.progress import ProgressLog, format_duration
from vectorfin.ml.training import (
    ABANDONED_CHECKPOINT_DAYS,
    ADAPTER_DIR,
    CHECKPOINT_COMPLETE_FILE,
    checkpoint_dir,
    last_complete_checkpoint,
    train_model,
)

PAIRS = revenue_pairs(12)
# 12 pairs in batches of 2: 6 steps, a checkpoint every 2.
RESUMABLE = {"batch_size": 2, "max_seq_length": 32, "lora_r": 4, "lora_alpha": 8, "checkpoint_steps": 2}

TRAIN_SCRIPT = textwrap.dedent(
    """
    import json, sys
    from pathlib import Path
    import pandas as pd
    from vectorfin.config.training import TrainingConfig
    from vectorfin.ml.training import train_model
    pairs = pd.read_json(sys.argv[1])
    config = TrainingConfig.from_mapping(json.loads(sys.argv[2]))
    train_model(pairs, config, Path(sys.argv[3]), device="cpu")
    """
)


def _adapter_weights(folder: Path) -> dict[str, np.ndarray]:
    return load_file(str(folder / ADAPTER_DIR / "adapter_model.safetensors"))


@pytest.mark.slow
def test_a_training_killed_mid_run_resumes_from_its_last_checkpoint(tmp_path: Path) -> None:
    pairs_file = tmp_path / "pairs.json"
    PAIRS.to_json(pairs_file)
    killed_output = tmp_path / "killed" / "model"
    checkpoints = checkpoint_dir(killed_output)
    process = subprocess.Popen(
        [sys.executable, "-c", TRAIN_SCRIPT, str(pairs_file), json.dumps(RESUMABLE), str(killed_output)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 600
    while not (checkpoints / "checkpoint-2" / CHECKPOINT_COMPLETE_FILE).exists():
        assert process.poll() is None, "training ended before its first checkpoint"
        assert time.monotonic() < deadline, "no checkpoint within 10 minutes"
        time.sleep(0.2)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert not killed_output.exists()  # nothing was published

    resumed = train_model(PAIRS, TrainingConfig.from_mapping(RESUMABLE), killed_output, device="cpu")
    uninterrupted = train_model(
        PAIRS, TrainingConfig.from_mapping(RESUMABLE), tmp_path / "whole" / "model", device="cpu"
    )

    assert resumed.resumed_from_step >= 2
    assert resumed.steps == uninterrupted.steps == 6
    assert not checkpoints.exists()  # a finished run clears its checkpoints
    resumed_weights, whole_weights = (
        _adapter_weights(killed_output),
        _adapter_weights(tmp_path / "whole" / "model"),
    )
    assert resumed_weights.keys() == whole_weights.keys()
    for name, weights in whole_weights.items():
        np.testing.assert_allclose(resumed_weights[name], weights, atol=1e-6)


def test_a_half_written_checkpoint_is_dropped_for_the_one_before(tmp_path: Path) -> None:
    complete, partial = tmp_path / "checkpoint-10", tmp_path / "checkpoint-20"
    complete.mkdir()
    (complete / CHECKPOINT_COMPLETE_FILE).write_text("{}")
    partial.mkdir()
    (partial / "adapter_model.safetensors").write_bytes(b"cut short")

    assert last_complete_checkpoint(tmp_path) == complete
    assert not partial.exists()
    assert last_complete_checkpoint(tmp_path / "absent") is None


def _checkpoint_written(folder: Path, days_ago: float) -> Path:
    """A complete checkpoint of another run in `folder`, last written `days_ago`."""
    checkpoint = folder / "checkpoint-4"
    checkpoint.mkdir(parents=True)
    (checkpoint / CHECKPOINT_COMPLETE_FILE).write_text("{}")
    written = time.time() - days_ago * 24 * 3600
    for path in (checkpoint / CHECKPOINT_COMPLETE_FILE, checkpoint, folder):
        os.utime(path, (written, written))
    return folder


@pytest.mark.slow
def test_a_starting_run_removes_other_runs_checkpoints_abandoned_for_a_week(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    output = tmp_path / "model"
    abandoned = _checkpoint_written(checkpoint_dir(tmp_path / "abandoned"), ABANDONED_CHECKPOINT_DAYS + 1)
    paused = _checkpoint_written(checkpoint_dir(tmp_path / "paused"), ABANDONED_CHECKPOINT_DAYS - 1)

    with caplog.at_level("WARNING", logger="vectorfin.ml.training"):
        train_model(PAIRS, TrainingConfig.from_mapping(RESUMABLE), output, device="cpu")

    assert not abandoned.exists()
    assert (paused / "checkpoint-4" / CHECKPOINT_COMPLETE_FILE).exists()
    assert f"Removing the checkpoints of an abandoned run, {abandoned}: last written" in caplog.text
    assert str(paused) not in caplog.text


def test_gradcache_memory_follows_the_mini_batch_not_the_batch() -> None:
    small_batch = estimate_training_memory(TrainingConfig(batch_size=32, mini_batch_size=16))
    huge_batch = estimate_training_memory(TrainingConfig(batch_size=4096, mini_batch_size=16))
    plain = estimate_training_memory(TrainingConfig(batch_size=32, mini_batch_size=None))

    assert small_batch == huge_batch
    assert plain.activation_bytes == 6 * small_batch.activation_bytes  # 96 sequences instead of 16
    longer = estimate_training_memory(TrainingConfig(batch_size=32, mini_batch_size=16, max_seq_length=512))
    assert longer.activation_bytes > 2 * small_batch.activation_bytes  # attention grows with length^2


def test_a_setting_that_cannot_fit_is_refused_before_any_work(tmp_path: Path) -> None:
    greedy = TrainingConfig(batch_size=4096, mini_batch_size=None, max_seq_length=512)

    with pytest.raises(TrainingMemoryError) as error:
        check_training_fits(greedy, "cpu")
    message = str(error.value)
    assert "12288 sequences of 512 word pieces" in message
    assert "Lower training.mini_batch_size" in message
    with pytest.raises(TrainingMemoryError):
        train_model(PAIRS, greedy, tmp_path / "model", device="cpu")
    assert not (tmp_path / "model").exists()
    assert check_training_fits(TrainingConfig(), "cpu").total_bytes < 8 * GIB  # the defaults fit a laptop


def test_progress_lines_give_count_rate_and_eta() -> None:
    now = [0.0]
    lines: list[str] = []
    progress = ProgressLog("embedding", 300, "chunks", interval_s=30, clock=lambda: now[0], emit=lines.append)

    now[0] = 10.0
    progress.advance(50)  # within the interval: silent
    now[0] = 40.0
    progress.advance(70)
    now[0] = 100.0
    progress.advance(180)

    assert lines == [
        "embedding: 120/300 chunks (40%), 3.0 chunks/s, ETA 1m00s",
        "embedding: 300/300 chunks (100%), 3.0 chunks/s, done",
    ]
    assert format_duration(7322) == "2h02m"
