"""The shell a reader of the README gets: `make build`, then `source .venv/bin/activate`, then plain
commands from the project folder, against a throwaway demo warehouse instead of the project's own.

    shell = DocumentedShell.create(tmp_path)     # a copy of the venv's activate script + the Makefile's hook
    shell.make("build", "DBT_ARGS=--exclude training_runs+")
    shell.run("dbt show --select int_pairs__qa_turns --limit 5")

The activate script is a copy of the running virtualenv's (it still activates that virtualenv), given
the project's environment by the Makefile's own `activate-env` recipe, so the test sees exactly what
`make build` leaves behind without touching the real virtualenv. The paths env.sh would default to the
project folder are preset to the throwaway folder (env.sh keeps paths already set), and dbt writes its
target/ and logs/ there too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from vectorfin.config import PROJECT_ROOT

# The virtualenv running the tests (the project's .venv under `make test`); not resolved, so a
# symlinked .venv keeps the name make knows it by.
VENV = Path(sys.executable).parent.parent


@dataclass
class DocumentedShell:
    root: Path
    env: dict[str, str]

    @classmethod
    def create(cls, root: Path) -> DocumentedShell:
        """A throwaway warehouse, DuckDB file, artifacts and dbt target under `root`; no external
        evaluation files (an empty folder), as in a fresh clone without ../shared beside it."""
        root.mkdir(parents=True, exist_ok=True)
        activate = root / "venv" / "bin" / "activate"
        activate.parent.mkdir(parents=True)
        shutil.copy(VENV / "bin" / "activate", activate)
        no_external_files = root / "no_external_files"
        no_external_files.mkdir()
        env = {key: value for key, value in os.environ.items() if not key.startswith(("VECTORFIN_", "DBT_"))}
        env.update(
            VECTORFIN_WAREHOUSE=str(root / "warehouse"),
            VECTORFIN_DUCKDB_PATH=str(root / "vectorfin.duckdb"),
            VECTORFIN_ARTIFACTS=str(root / "artifacts"),
            VECTORFIN_EVALS_DIR=str(no_external_files),
            VECTORFIN_GENERAL_DIR=str(no_external_files),
            DBT_TARGET_PATH=str(root / "target"),
            DBT_LOG_PATH=str(root / "logs"),
        )
        shell = cls(root, env)
        hooked = shell.make("activate-env", venv=activate.parent.parent)
        if hooked.returncode != 0:
            raise RuntimeError(f"make activate-env failed:\n{hooked.stdout}\n{hooked.stderr}")
        return shell

    @property
    def activate_script(self) -> Path:
        return self.root / "venv" / "bin" / "activate"

    def run(
        self, command: str, extra_env: dict[str, str] | None = None, timeout: float = 900
    ) -> subprocess.CompletedProcess[str]:
        """`command` in bash, after `source <venv>/bin/activate`, from the project folder."""
        return subprocess.run(
            ["bash", "-c", f'source "{self.activate_script}" && {command}'],
            cwd=PROJECT_ROOT,
            env={**self.env, **(extra_env or {})},
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def make(self, *args: str, venv: Path = VENV, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        """`make <args>` with `venv` (default: the running virtualenv), which is never reinstalled
        (`-o`: its `.installed` marker counts as up to date)."""
        return subprocess.run(
            ["make", "-s", f"VENV={venv}", "-o", f"{venv}/bin/.installed", *args],
            cwd=PROJECT_ROOT,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )

    def query(self, sql: str) -> list[tuple]:
        import duckdb

        with duckdb.connect(self.env["VECTORFIN_DUCKDB_PATH"], read_only=True) as connection:
            return connection.execute(sql).fetchall()
