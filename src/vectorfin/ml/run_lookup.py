"""Which training run a build is about, and whether it may be published, without importing the ML stack
(torch, transformers): the run report and published_runs, which load no model, read them from here;
`vectorfin.ml.runs` re-exports them."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


def current_run(training_runs: pd.DataFrame) -> pd.Series:
    """The run the latest build trained or reused."""
    if training_runs.empty:
        raise ValueError("training_runs is empty: build the training_runs model first")
    return training_runs.sort_values("built_at").iloc[-1]


@dataclass(frozen=True)
class Publication:
    """Whether `chunk_embeddings` publishes the current run, and why."""

    publish: bool
    reason: str


def publication(run: pd.Series, regression_check: pd.DataFrame) -> Publication:
    """Publish the current run only when every check of `regression_check` (the rules, a SQL view over
    retrieval_metrics, one row per check) judged this very run and passed."""
    if regression_check.empty:
        return Publication(False, "regression_check holds no rows: build retrieval_metrics first")
    judged_runs = set(regression_check["model_run_id"].dropna())
    if judged_runs != {run["run_id"]}:
        judged = (
            f"it judged {', '.join(sorted(judged_runs))}"
            if judged_runs
            else regression_check["reason"].iloc[0]
        )
        return Publication(
            False,
            f"regression_check has no verdict on the current run {run['run_id']} ({judged}): "
            "build retrieval_metrics first",
        )
    verdicts = "; ".join(
        f"{name}: {reason}"
        for name, reason in zip(regression_check["check_name"], regression_check["reason"], strict=True)
    )
    return Publication(bool(regression_check["passed"].all()), f"run {run['run_id']}: {verdicts}")
