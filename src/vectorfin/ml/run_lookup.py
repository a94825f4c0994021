"""Which training run a build is about, without importing the ML stack (torch, transformers): the
run report, which loads no model, reads it from here; `vectorfin.ml.runs` re-exports it."""

from __future__ import annotations

import pandas as pd


def current_run(training_runs: pd.DataFrame) -> pd.Series:
    """The run the latest build trained or reused."""
    if training_runs.empty:
        raise ValueError("training_runs is empty: build the training_runs model first")
    return training_runs.sort_values("built_at").iloc[-1]
