"""Progress of long steps (training, embedding, evaluation) as log lines with a rate and an ETA.

dbt shows what a Python model logs, but not a terminal progress bar redrawn in place, so a long CPU
run reports itself every `interval_s` seconds in plain lines:
`training: 120/630 examples (19%), 3.2 examples/s, ETA 2m39s`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from transformers import TrainerCallback, TrainerControl, TrainerState, TrainingArguments

logger = logging.getLogger("vectorfin.progress")

DEFAULT_INTERVAL_S = 30.0


def format_duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m"
    return f"{minutes}m{seconds:02d}s" if minutes else f"{seconds}s"


class ProgressLog:
    """Counts work done towards a known total and logs the rate and the time left, now and then."""

    def __init__(
        self,
        label: str,
        total: int,
        unit: str,
        interval_s: float = DEFAULT_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
        emit: Callable[[str], None] | None = None,
    ) -> None:
        self.label, self.total, self.unit = label, total, unit
        self.interval_s = interval_s
        self.clock = clock
        self.emit = emit or logger.info
        self.done = 0
        self.started = self.last_report = clock()

    def advance(self, amount: int = 1, detail: str = "") -> None:
        self.done += amount
        now = self.clock()
        if now - self.last_report >= self.interval_s or self.done >= self.total:
            self.last_report = now
            self.emit(self.line(now, detail))

    def line(self, now: float, detail: str = "") -> str:
        elapsed = now - self.started
        rate = self.done / elapsed if elapsed > 0 else 0.0
        share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
        remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = "done" if self.done >= self.total else (f"ETA {format_duration(remaining)}" if rate > 0 else "")
        parts = [
            f"{self.label}: {self.done}/{self.total} {self.unit}{share}",
            f"{rate:.1f} {self.unit}/s",
            eta,
        ]
        return ", ".join(part for part in (*parts, detail) if part)


class TrainingProgressLog(TrainerCallback):
    """A ProgressLog over training examples, with the latest training loss."""

    def __init__(self, interval_s: float = DEFAULT_INTERVAL_S) -> None:
        self.interval_s = interval_s
        self.progress: ProgressLog | None = None
        self.examples_per_step = 0
        self.last_loss = ""

    def on_train_begin(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: object
    ) -> None:
        self.examples_per_step = args.per_device_train_batch_size * max(1, args.gradient_accumulation_steps)
        self.progress = ProgressLog(
            "training", state.max_steps * self.examples_per_step, "examples", self.interval_s
        )
        # A resumed run starts counting where its checkpoint left off, at the rate of this run.
        self.progress.total -= state.global_step * self.examples_per_step

    def on_log(
        self,
        args: TrainingArguments,
        state: TrainerState,
        control: TrainerControl,
        logs: dict[str, float] | None = None,
        **kwargs: object,
    ) -> None:
        if logs and "loss" in logs:
            self.last_loss = f"loss {logs['loss']:.4f}"

    def on_step_end(
        self, args: TrainingArguments, state: TrainerState, control: TrainerControl, **kwargs: object
    ) -> None:
        if self.progress is not None:
            self.progress.advance(self.examples_per_step, self.last_loss)
