"""The demo builds the tests share (conftest.py builds each once per session) and their settings."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vectorfin.dbt_workspace import ML_MODELS_EXCLUDE, DbtResult, DbtWorkspace, run_dbt

# The training settings of the trained demo build (conftest.py, `trained_demo`): seconds on a CPU.
DEMO_TRAINING = {"max_seq_length": 64, "batch_size": 8, "seed": 7}
# The demo's held-out set is a handful of queries, under the default regression_min_queries: judge it anyway,
# so that the regression check is exercised.
JUDGE_SMALL_SETS = {"regression_min_queries": 1}


@dataclass
class TrainedDemo:
    """The demo built once with training, evaluation, embeddings and search. `workspace` is for tests
    that build on it in place (test_dbt_python_models); `pristine` is a copy of its DuckDB files taken
    right after the build (sharing its Iceberg warehouse and artifacts, which nothing removes), for
    tests that must see it as built, whatever ran before them: they run dbt on a `pristine.copy_to(...)`,
    as dbt opens the file for writing."""

    workspace: DbtWorkspace
    first: DbtResult
    pristine: DbtWorkspace


@dataclass
class DemoBuild:
    workspace: DbtWorkspace
    result: DbtResult


def build_demo(
    root: Path, vars: Mapping[str, Any] | None = None, extra_args: Sequence[str] = ML_MODELS_EXCLUDE
) -> DemoBuild:
    """Load the demo corpus into a fresh workspace under `root` (no external evaluation files, as on a
    fresh clone) and `dbt build` it. Tests that only read a SQL build share conftest's `sql_demo`."""
    workspace = DbtWorkspace.demo(root)
    result = run_dbt(["build", *extra_args], workspace.env, vars=vars)
    return DemoBuild(workspace, result)
