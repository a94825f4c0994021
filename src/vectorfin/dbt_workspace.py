"""Run the real dbt project in a subprocess against a throwaway warehouse (for tests and benchmarks).

    from vectorfin.dbt_workspace import DbtWorkspace, run_dbt

    workspace = DbtWorkspace.create(tmp_path)          # its own warehouse, DuckDB file, target/ and logs/
    workspace.load_corpus(DEMO_CORPUS)                 # python -m vectorfin init + load (real pyiceberg)
    result = run_dbt(["build", "--exclude", "training_runs+"], workspace.env)
    assert result.ok, result.summary()
    result.status("training_pairs_quality_gate")       # "success", "error", "fail", "skipped", ...
    workspace.query("select count(*) from training_pairs")

Every run gets its own `--target-path` and `--log-path` (DBT_TARGET_PATH / DBT_LOG_PATH), so runs in
parallel, or beside someone's interactive `dbt build`, never overwrite each other's compiled SQL.
The tests build the demo once per session (tests/python/conftest.py: `sql_demo`, the SQL pipeline;
`trained_demo`, with training); a test that changes the DuckDB file works on `.workspace.copy_to(tmp_path)`.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import project_environment
from vectorfin.search_index import search_index_path

DEMO_CORPUS = PROJECT_ROOT / "demo_corpus"
# The ML models train and embed with the real model: not what a data-pipeline test should wait for.
ML_MODELS_EXCLUDE = ("--exclude", "training_runs+")
PARTIAL_PARSE_FILE = "partial_parse.msgpack"  # dbt's parse state in its target folder


def dbt_executable() -> list[str]:
    """The dbt of the running interpreter's environment (the project's .venv under `make test`)."""
    beside = Path(sys.executable).with_name("dbt")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("dbt")
    if found is None:
        raise RuntimeError("dbt is not installed in this environment")
    return [found]


def node_name(unique_id: str) -> str:
    """A node's name from its unique_id: `model.project.name`, `test.project.name.<hash>` (generic
    tests), `unit_test.project.model.name`."""
    parts = unique_id.split(".")
    if parts[0] == "test" and len(parts) == 4:
        return parts[2]
    return parts[-1]


@dataclass
class DbtResult:
    """One dbt invocation: exit code, output and the parsed run_results.json."""

    args: list[str]
    returncode: int
    stdout: str
    stderr: str
    seconds: float
    run_results: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return self.returncode == 0

    @property
    def results(self) -> list[dict[str, Any]]:
        return list((self.run_results or {}).get("results", []))

    def status(self, name: str) -> str | None:
        """Status of the node named `name` (a model, seed, test or unit test name), None if it did not run."""
        for result in self.results:
            if node_name(result["unique_id"]) == name:
                return result["status"]
        return None

    def statuses(self, prefix: str = "") -> dict[str, str]:
        """{node name: status} of the nodes whose name starts with `prefix`."""
        named = {node_name(result["unique_id"]): result["status"] for result in self.results}
        return {name: status for name, status in named.items() if name.startswith(prefix)}

    def executed(self) -> dict[str, str]:
        """{node name: status} of the nodes that ran (not skipped), hooks included."""
        return {name: status for name, status in self.statuses().items() if status != "skipped"}

    def message(self, name: str) -> str:
        for result in self.results:
            if node_name(result["unique_id"]) == name:
                return result.get("message") or ""
        return ""

    def failures(self) -> dict[str, str]:
        return {
            result["unique_id"]: result.get("message") or ""
            for result in self.results
            if result["status"] in {"error", "fail", "runtime error"}
        }

    def summary(self, tail: int = 60) -> str:
        lines = (self.stdout + self.stderr).splitlines()
        failed = "\n".join(f"  {node}: {message}" for node, message in self.failures().items())
        return f"dbt {' '.join(self.args)} -> {self.returncode}\n{failed}\n" + "\n".join(lines[-tail:])


@dataclass
class DbtWorkspace:
    """A throwaway warehouse + DuckDB file + dbt target/log folders under one directory."""

    root: Path
    env: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, root: Path, extra_env: Mapping[str, str] | None = None) -> DbtWorkspace:
        """The project's environment (env.sh, via `project_environment`) with this workspace's own
        warehouse, DuckDB file and artifacts; `extra_env` overrides any of it for one test. Settings of
        the calling shell (an activated venv's paths, DBT_* flags) are dropped, except the external
        evaluation folders."""
        root.mkdir(parents=True, exist_ok=True)
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("VECTORFIN_", "DBT_"))
            or key in {"VECTORFIN_EVALS_DIR", "VECTORFIN_GENERAL_DIR"}
        }
        env.update(
            VECTORFIN_WAREHOUSE=str(root / "warehouse"),
            VECTORFIN_DUCKDB_PATH=str(root / "vectorfin.duckdb"),
            VECTORFIN_ARTIFACTS=str(root / "artifacts"),
            VECTORFIN_DOCS_ASSETS=str(root / "docs_assets"),  # never the project's own assets/
        )
        env.update(extra_env or {})
        return cls(root, project_environment(env))

    @classmethod
    def without_external_files(cls, root: Path) -> DbtWorkspace:
        """An empty workspace without external evaluation files, as on a fresh clone: the evaluation
        sets are the corpus's own, whatever lies in ../shared/data (and the builds are quicker)."""
        no_evals = root / "no_external_evals"
        no_evals.mkdir(parents=True, exist_ok=True)
        return cls.create(
            root, extra_env={"VECTORFIN_EVALS_DIR": str(no_evals), "VECTORFIN_GENERAL_DIR": str(no_evals)}
        )

    @classmethod
    def demo(cls, root: Path) -> DbtWorkspace:
        """A workspace without external files (`without_external_files`) with the demo corpus loaded."""
        workspace = cls.without_external_files(root)
        workspace.load_corpus(DEMO_CORPUS)
        return workspace

    @property
    def duckdb_path(self) -> Path:
        return Path(self.env["VECTORFIN_DUCKDB_PATH"])

    def load_corpus(self, *paths: Path, timeout: float = 900) -> None:
        """`python -m vectorfin init`, then `load` the corpus folders into this warehouse."""
        for args in (["init"], ["load", *map(str, paths), "--quiet"]):
            completed = subprocess.run(
                [sys.executable, "-m", "vectorfin", *args],
                cwd=PROJECT_ROOT,
                env=self.env,
                capture_output=True,
                text=True,
                timeout=timeout,
            )
            if completed.returncode != 0:
                raise RuntimeError(
                    f"vectorfin {' '.join(args)} failed:\n{completed.stdout}\n{completed.stderr}"
                )

    def copy_to(self, root: Path) -> DbtWorkspace:
        """A copy of this workspace's DuckDB file (and WAL) and search index file, sharing its (read-only)
        warehouse."""
        root.mkdir(parents=True, exist_ok=True)
        target = root / self.duckdb_path.name
        for source, copy in (
            (self.duckdb_path, target),
            (Path(f"{self.duckdb_path}.wal"), Path(f"{target}.wal")),
            (search_index_path(self.duckdb_path), search_index_path(target)),
        ):
            if source.exists():
                shutil.copy2(source, copy)
        env = dict(
            self.env,
            VECTORFIN_DUCKDB_PATH=str(target),
            VECTORFIN_ARTIFACTS=str(root / "artifacts"),
            VECTORFIN_DOCS_ASSETS=str(root / "docs_assets"),
        )
        return DbtWorkspace(root, env)

    def query(self, sql: str, parameters: Sequence[Any] | None = None) -> list[tuple]:
        """Run SQL on the workspace's DuckDB file (read-only; the iceberg extension is loaded)."""
        from vectorfin import duck

        with duck.connect(str(self.duckdb_path), read_only=True) as connection:
            return connection.execute(sql, parameters or []).fetchall()

    def table_fingerprints(self) -> dict[str, tuple[int, int]]:
        """{table: (rows, order-free hash of its rows)} for every table of the DuckDB file: equal
        fingerprints mean equal contents."""
        import duckdb

        with duckdb.connect(str(self.duckdb_path), read_only=True) as connection:
            tables = connection.execute(
                "select table_name from duckdb_tables() where schema_name = 'main' order by table_name"
            ).fetchall()
            return {
                name: connection.execute(
                    f'select count(*), coalesce(bit_xor(hash(t)), 0) from "{name}" as t'
                ).fetchone()
                for (name,) in tables
            }

    def execute(self, *statements: str) -> None:
        """Run statements that change the DuckDB file (plant rows, drop tables)."""
        from vectorfin import duck

        with duck.connect(str(self.duckdb_path)) as connection:
            for statement in statements:
                connection.execute(statement)


def run_dbt(
    args: Iterable[str],
    env: Mapping[str, str],
    vars: Mapping[str, Any] | None = None,
    project_dir: Path = PROJECT_ROOT,
    timeout: float = 1800,
    run_dir: Path | None = None,
) -> DbtResult:
    """`dbt <args>` in a subprocess with `env`; `vars` become `--vars <json>`.

    Compiled SQL and logs go to a fresh folder (`run_dir`, default a new folder beside the DuckDB
    file), so concurrent runs never share dbt's target/ folder. Each starts from the partial-parse state
    the last run of the same project on the same DuckDB file left: dbt reparses only what changed (and
    everything when the vars, profile or environment differ), a few seconds less per run.
    """
    args = list(args)
    if vars:
        args += ["--vars", json.dumps(dict(vars))]
    runs = Path(env.get("VECTORFIN_DUCKDB_PATH", project_dir / "vectorfin.duckdb")).parent / "dbt_runs"
    if run_dir is None:
        run_dir = runs / f"run-{time.time_ns()}"
    project_key = hashlib.md5(str(project_dir.resolve()).encode()).hexdigest()[:12]
    parse_state = runs / f"partial_parse-{project_key}.msgpack"
    (run_dir / "target").mkdir(parents=True, exist_ok=True)
    if parse_state.exists():
        shutil.copyfile(parse_state, run_dir / "target" / PARTIAL_PARSE_FILE)
    run_env = dict(env, DBT_TARGET_PATH=str(run_dir / "target"), DBT_LOG_PATH=str(run_dir / "logs"))
    started = time.perf_counter()
    completed = subprocess.run(
        [*dbt_executable(), *args],
        cwd=project_dir,
        env=run_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    seconds = time.perf_counter() - started
    if (run_dir / "target" / PARTIAL_PARSE_FILE).exists():
        staged = parse_state.with_name(f"{parse_state.name}.{os.getpid()}.{time.time_ns()}")
        shutil.copyfile(run_dir / "target" / PARTIAL_PARSE_FILE, staged)
        os.replace(staged, parse_state)  # whole or not at all, for a run beside this one
    results_file = run_dir / "target" / "run_results.json"
    run_results = json.loads(results_file.read_text()) if results_file.exists() else None
    return DbtResult(args, completed.returncode, completed.stdout, completed.stderr, seconds, run_results)
