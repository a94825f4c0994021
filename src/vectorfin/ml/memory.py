"""How much memory a training run needs, estimated before it starts, so that a setting that cannot fit
stops with a clear error instead of the kernel's OOM killer.

Peak memory of a step = a fixed part (the model, its optimizer state, the frameworks) plus the
activations of the sequences one forward/backward pass holds at once (`sequences_in_memory`): per
sequence of L word pieces, a part growing with L (hidden states, feed-forward) and one with L^2
(attention scores). The coefficients were measured for all-MiniLM-L6-v2 in fp32 on CPU with
`benchmarks/training_memory.py` (see docs/benchmarks.md) and are scaled by layers x hidden size for
other BERT-like models.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from vectorfin.config.training import TrainingConfig

GIB = 1024**3
# Measured (benchmarks/training_memory.py, docs/benchmarks.md), MiniLM-L6 (6 layers x 384), fp32, CPU.
FIXED_BYTES = int(1.6 * GIB)
BYTES_PER_TOKEN = 150_000
BYTES_PER_TOKEN_PAIR = 1_200  # attention: per token, per other token of the sequence
REFERENCE_SIZE = 6 * 384  # layers x hidden size of the model the coefficients were measured on
# Leave room for everything else in the process (the dbt run, the pairs, the evaluation that follows).
HEADROOM = 0.85


class TrainingMemoryError(RuntimeError):
    """The training settings need more memory than the machine has available."""


@dataclass(frozen=True)
class MemoryEstimate:
    fixed_bytes: int
    activation_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.fixed_bytes + self.activation_bytes


def estimate_training_memory(config: TrainingConfig) -> MemoryEstimate:
    length = config.max_seq_length
    per_sequence = length * BYTES_PER_TOKEN + length * length * BYTES_PER_TOKEN_PAIR
    if config.gradient_checkpointing:
        # Only each layer's input is kept; one layer's activations are rebuilt at a time (measured: a
        # third of the activations, not the sixth one layer of six would suggest).
        per_sequence = per_sequence // 3
    scale = _model_size(config) / REFERENCE_SIZE
    return MemoryEstimate(
        fixed_bytes=int(FIXED_BYTES * scale),
        activation_bytes=int(config.sequences_in_memory * per_sequence * scale),
    )


def available_memory_bytes() -> int | None:
    """Memory this process may still use: the cgroup's limit minus its usage where one is set,
    else the kernel's MemAvailable; None where neither can be read (not Linux)."""
    candidates = []
    limit, usage = _read_int("/sys/fs/cgroup/memory.max"), _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and usage is not None:
        candidates.append(limit - usage)
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                candidates.append(int(line.split()[1]) * 1024)
    return min(candidates) if candidates else None


def check_training_fits(config: TrainingConfig, device: str) -> MemoryEstimate:
    """Raise TrainingMemoryError when the estimate exceeds the memory available for training."""
    estimate = estimate_training_memory(config)
    available = _available_on(device)
    if available is not None and estimate.total_bytes > HEADROOM * available:
        raise TrainingMemoryError(
            f"training needs about {estimate.total_bytes / GIB:.1f} GiB "
            f"({config.sequences_in_memory} sequences of {config.max_seq_length} word pieces held at once: "
            f"{estimate.activation_bytes / GIB:.1f} GiB of activations), but only "
            f"{available / GIB:.1f} GiB of {device} memory is available. Lower training.mini_batch_size "
            f"(GradCache: memory follows it, not batch_size), training.max_seq_length, or set "
            f"training.gradient_checkpointing: true"
        )
    return estimate


def _available_on(device: str) -> int | None:
    if device == "cuda":
        import torch

        free, _ = torch.cuda.mem_get_info()
        return free
    return available_memory_bytes() if device == "cpu" else None


def _model_size(config: TrainingConfig) -> int:
    """Layers x hidden size of the base model, read from its config.json."""
    model_config = Path(config.resolved_base_model()) / "config.json"
    try:
        values = json.loads(model_config.read_text())
        return int(values["num_hidden_layers"]) * int(values["hidden_size"])
    except (OSError, ValueError, KeyError):
        return REFERENCE_SIZE


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None
