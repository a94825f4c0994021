"""Shared fixtures: every test gets its own warehouse, catalog, DuckDB file and artifacts folder.

`make test` runs the suite on two pytest-xdist workers, a module at a time (`--dist loadfile`): a
module's tests run in order on one worker, so its module fixtures are built once and the tests that
change a shared build in place (test_docs_commands: the quick start's shell; test_dbt_python_models:
the trained demo) never run beside each other. The session builds are made once for all workers
(`built_once`).
"""

from __future__ import annotations

import json
import os
import pickle
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import pytest
from demo_builds import DEMO_TRAINING, JUDGE_SMALL_SETS, DemoBuild, TrainedDemo
from documented_shell import DocumentedShell
from filelock import FileLock

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations, project_environment
from vectorfin.dbt_workspace import ML_MODELS_EXCLUDE, DbtResult, DbtWorkspace, run_dbt

DEMO_CORPUS = PROJECT_ROOT / "demo_corpus"
# Real corpora live beside the project, never inside it (see ../shared/data/README.md).
SHARED_DATA = PROJECT_ROOT.parent / "shared" / "data"
SESSION_BUILDS = ("trained_demo", "quick_start")
WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1"))
# Torch's threads spin-wait: two workers with a thread per core each slow each other far more than 2x.
os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // WORKERS)))

Built = TypeVar("Built")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Under `make test` each worker takes a whole module at a time, in this order (`--dist loadfile
    --no-loadscope-reorder`): first the modules on the trained demo, then those on the quick start (the
    longest; each build is made once, by the first worker to ask), then the rest."""
    items.sort(key=lambda item: [build not in item.fixturenames for build in SESSION_BUILDS])


def built_once(
    name: str, tmp_path_factory: pytest.TempPathFactory, build: Callable[[Callable[[str], Path]], Built]
) -> Built:
    """`build(mkdir)` once per `make test`: under pytest-xdist every worker is a session of its own, so the
    first worker to ask builds under the folder the workers share and the others wait for it and read
    what it built. `mkdir(name)` gives the build a new folder."""
    if WORKERS == 1:
        return build(tmp_path_factory.mktemp)
    shared = tmp_path_factory.getbasetemp().parent / "session_builds"
    shared.mkdir(exist_ok=True)
    record = shared / f"{name}.pickle"

    def mkdir(folder: str) -> Path:
        path = shared / f"{name}-{folder}"
        path.mkdir()
        return path

    with FileLock(f"{record}.lock"):
        if not record.exists():
            record.write_bytes(pickle.dumps(build(mkdir)))
        return pickle.loads(record.read_bytes())


@pytest.fixture
def settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> StateLocations:
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", str(tmp_path / "warehouse"))
    monkeypatch.setenv("VECTORFIN_DUCKDB_PATH", str(tmp_path / "vectorfin.duckdb"))
    monkeypatch.setenv("VECTORFIN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.delenv("VECTORFIN_CATALOG_URI", raising=False)
    return StateLocations.from_env()


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


@dataclass
class QuickStart:
    """The README's quick start, run once per session: `shell` is the activated shell it leaves (the
    documented-commands and browser tests run in it), `sql_demo` a copy of the DuckDB file its
    `make build` wrote, taken before anything else ran, with that build's results (the SQL pipeline
    tests read it, and change only copies of it)."""

    shell: DocumentedShell
    sql_demo: DemoBuild


@pytest.fixture(scope="session")
def quick_start(tmp_path_factory: pytest.TempPathFactory) -> QuickStart:
    """`make build` of the demo (the SQL pipeline: the ML models train for minutes and are covered by
    the trained demo below) on a throwaway warehouse: the suite's one SQL-only build."""
    return built_once("quick_start", tmp_path_factory, make_quick_start)


def make_quick_start(mkdir: Callable[[str], Path]) -> QuickStart:
    shell = DocumentedShell.create(mkdir("documented_demo"))
    started = time.perf_counter()
    built = shell.make("build", f"DBT_ARGS={' '.join(ML_MODELS_EXCLUDE)}")
    seconds = time.perf_counter() - started
    assert built.returncode == 0, f"make build failed:\n{built.stdout[-4000:]}\n{built.stderr[-4000:]}"
    run_results = json.loads((Path(shell.env["DBT_TARGET_PATH"]) / "run_results.json").read_text())
    result = DbtResult(
        ["build", *ML_MODELS_EXCLUDE], built.returncode, built.stdout, built.stderr, seconds, run_results
    )
    env = {key: value for key, value in shell.env.items() if key not in {"DBT_TARGET_PATH", "DBT_LOG_PATH"}}
    built_workspace = DbtWorkspace(shell.root, project_environment(env))
    pristine = built_workspace.copy_to(mkdir("sql_demo_pristine"))
    return QuickStart(shell, DemoBuild(pristine, result))


@pytest.fixture(scope="session")
def documented_demo(quick_start: QuickStart) -> DocumentedShell:
    """The README's quick start on a throwaway warehouse: `make build`, then an activated shell."""
    return quick_start.shell


@pytest.fixture(scope="session")
def sql_demo(quick_start: QuickStart) -> DemoBuild:
    """The demo's SQL pipeline as `make build` left it (read it; change a `workspace.copy_to(tmp_path)`)."""
    return quick_start.sql_demo


@pytest.fixture(scope="session")
def trained_demo(tmp_path_factory: pytest.TempPathFactory) -> TrainedDemo:
    """One `dbt build` of the demo with training per session: the slowest build of the suite, shared."""
    return built_once("trained_demo", tmp_path_factory, make_trained_demo)


def make_trained_demo(mkdir: Callable[[str], Path]) -> TrainedDemo:
    workspace = DbtWorkspace.demo(mkdir("trained_demo"))
    first = run_dbt(["build"], workspace.env, vars={"training": DEMO_TRAINING, **JUDGE_SMALL_SETS})
    assert first.ok, first.summary()
    return TrainedDemo(workspace, first, workspace.copy_to(mkdir("trained_demo_pristine")))
