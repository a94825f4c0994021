"""Shared fixtures: every test gets its own warehouse, catalog, DuckDB file and artifacts folder."""

from __future__ import annotations

from pathlib import Path

import pytest
from dbt_project_runner import DEMO_TRAINING, JUDGE_SMALL_SETS, DbtWorkspace, TrainedDemo, run_dbt
from documented_shell import DocumentedShell

from vectorfin.config import PROJECT_ROOT, Settings

DEMO_CORPUS = PROJECT_ROOT / "demo_corpus"
# Real corpora live beside the project, never inside it (see ../shared/data/README.md).
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Settings:
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("VECTORFIN_DUCKDB_PATH", str(tmp_path / "vectorfin.duckdb"))
    monkeypatch.setenv("VECTORFIN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.delenv("VECTORFIN_CATALOG_URI", raising=False)
    return Settings.from_env()


@pytest.fixture
def demo_corpus() -> Path:
    """The hand-written corpus in `demo_corpus/` (read-only: copy it before changing anything)."""
    return DEMO_CORPUS


@pytest.fixture
def shared_data() -> Path:
    """`../shared/data`, for tests marked `shared_data`; skips when this checkout has none beside it."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"shared data not found at {SHARED_DATA} (it lives beside the project, never in it)")
    return SHARED_DATA


@pytest.fixture(scope="session")
def documented_demo(tmp_path_factory: pytest.TempPathFactory) -> DocumentedShell:
    """The README's quick start on a throwaway warehouse: `make build` (the SQL pipeline: the ML models
    train for minutes and are covered by test_dbt_python_models), then an activated shell. Built once
    per session for the documented-commands and browser tests."""
    shell = DocumentedShell.create(tmp_path_factory.mktemp("documented_demo"))
    built = shell.make("build", "DBT_ARGS=--exclude training_runs+")
    assert built.returncode == 0, f"make build failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    return shell


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> TrainedDemo:
    """One `dbt build` of the demo with training per session: the slowest build of the suite, shared."""
    workspace = DbtWorkspace.demo(tmp_path_factory.mktemp("trained_demo"))
    first = run_dbt(["build"], workspace.env, vars={"training": DEMO_TRAINING, **JUDGE_SMALL_SETS})
    assert first.ok, first.summary()
    return TrainedDemo(workspace, first, workspace.copy_to(tmp_path_factory.mktemp("trained_demo_pristine")))
