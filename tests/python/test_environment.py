"""One definition of the project's environment, env.sh, read the same way by every shell that sources it
(the Makefile's recipes run it in sh, activation in bash or zsh), by the Python package and by the
test runner; and the Makefile's hook that makes `source .venv/bin/activate` carry it."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from documented_shell import VENV, DocumentedShell

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import ENV_FILE, StateLocations, project_environment
from vectorfin.dbt_workspace import DbtWorkspace

SHELLS = [shell for shell in ("bash", "dash", "zsh") if shutil.which(shell)]
# What a clean login shell has before sourcing anything.
BARE = {"PATH": os.environ["PATH"], "HOME": os.environ.get("HOME", "/tmp")}


def sourced(shell: str, environ: dict[str, str], cwd: Path = PROJECT_ROOT) -> dict[str, str]:
    """The environment after `. <env.sh>` in `shell`, started with `environ`, in `cwd`."""
    completed = subprocess.run(
        [shell, "-c", f'. "{ENV_FILE}" && env -0'],
        cwd=cwd,
        env=environ,
        capture_output=True,
        check=True,
    )
    pairs = (entry.split("=", 1) for entry in completed.stdout.decode().split("\0") if "=" in entry)
    return {name: value for name, value in pairs if name not in {"PWD", "SHLVL", "_", "OLDPWD"}}


@pytest.mark.parametrize("shell", SHELLS)
def test_every_shell_and_python_read_env_sh_alike(shell: str) -> None:
    python_view = project_environment(BARE)
    assert sourced(shell, BARE) == python_view
    assert python_view["VECTORFIN_WAREHOUSE"] == f"{PROJECT_ROOT}/warehouse"
    assert python_view["DBT_PROFILES_DIR"] == f"{PROJECT_ROOT}/profiles"
    assert python_view["HF_HUB_OFFLINE"] == "1"

    # paths already set are kept (an empty one counts as unset); offline settings always win
    preset = {
        **BARE,
        "VECTORFIN_WAREHOUSE": "/elsewhere/warehouse",
        "VECTORFIN_ARTIFACTS": "",
        "HF_HUB_OFFLINE": "0",
    }
    kept = sourced(shell, preset)
    assert kept == project_environment(preset)
    assert kept["VECTORFIN_WAREHOUSE"] == "/elsewhere/warehouse"
    assert kept["VECTORFIN_ARTIFACTS"] == f"{PROJECT_ROOT}/artifacts"
    assert kept["HF_HUB_OFFLINE"] == "1"


def test_python_without_the_environment_uses_the_project_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.startswith("VECTORFIN_"):
            monkeypatch.delenv(name)
    settings = StateLocations.from_env()
    assert settings.warehouse == str(PROJECT_ROOT / "warehouse")
    assert settings.duckdb_path == PROJECT_ROOT / "vectorfin.duckdb"
    assert settings.artifacts_dir == PROJECT_ROOT / "artifacts"


def test_activation_carries_the_environment_from_any_folder(tmp_path: Path) -> None:
    """`make activate-env` (what the install step runs) hooks env.sh into the activate script once;
    sourcing it in bash anywhere then sets the project's environment."""
    venv = tmp_path / "venv"
    (venv / "bin").mkdir(parents=True)
    shutil.copy(VENV / "bin" / "activate", venv / "bin" / "activate")
    for _ in range(2):
        subprocess.run(
            ["make", "-s", f"VENV={venv}", "activate-env"], cwd=PROJECT_ROOT, env=os.environ, check=True
        )
    script = (venv / "bin" / "activate").read_text()
    assert script.count(f'. "{PROJECT_ROOT}/env.sh"') == 1

    completed = subprocess.run(
        ["bash", "-c", f'source "{venv}/bin/activate" && env -0'],
        cwd=tmp_path,
        env=BARE,
        capture_output=True,
        check=True,
    )
    activated = dict(entry.split("=", 1) for entry in completed.stdout.decode().split("\0") if "=" in entry)
    for name, value in project_environment(BARE).items():
        if name not in BARE:
            assert activated.get(name) == value, name
    assert activated["PATH"].split(":")[0] == f"{activated['VIRTUAL_ENV']}/bin"  # its dbt and python first


def test_the_test_runner_reads_env_sh_and_keeps_its_overrides(tmp_path: Path) -> None:
    workspace = DbtWorkspace.create(tmp_path, extra_env={"VECTORFIN_EVALS_DIR": "/no/evals"})
    env = workspace.env
    assert env["DBT_PROFILES_DIR"] == f"{PROJECT_ROOT}/profiles"
    assert (env["HF_HUB_OFFLINE"], env["DBT_SEND_ANONYMOUS_USAGE_STATS"]) == ("1", "false")
    assert env["VECTORFIN_WAREHOUSE"] == str(tmp_path / "warehouse")
    assert env["VECTORFIN_EVALS_DIR"] == "/no/evals"


def test_make_load_takes_a_corpus_path_with_spaces_and_quotes(tmp_path: Path) -> None:
    corpus = tmp_path / 'Ann\'s "demo" corpus'
    shutil.copytree(PROJECT_ROOT / "demo_corpus", corpus)
    shell = DocumentedShell.create(tmp_path / "shell")

    loaded = shell.make("load", f"CORPUS={corpus}")

    assert loaded.returncode == 0, loaded.stderr[-3000:]
    assert "raw.transcript_chunks: 98 chunks added" in loaded.stdout
