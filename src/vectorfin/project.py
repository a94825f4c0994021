"""The dbt project's own settings, read from `dbt_project.yml`: every default is written there once.

The ML package, the quality gate and the settings validation read their defaults from the project's
`vars`, so a knob an analyst sees in `dbt_project.yml` is the very value the Python code falls back to.
"""

from __future__ import annotations

import copy
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from vectorfin.config import PROJECT_ROOT

PROJECT_FILE = PROJECT_ROOT / "dbt_project.yml"


@cache
def _project() -> dict[str, Any]:
    return yaml.safe_load(PROJECT_FILE.read_text(encoding="utf-8"))


def _project_vars() -> dict[str, Any]:
    return _project()["vars"]


def docs_assets_folder() -> Path:
    """The folder `dbt docs generate` copies into the docs site: the first of `asset-paths`."""
    folders = _project().get("asset-paths") or []
    if not folders:
        raise KeyError(
            f"{PROJECT_FILE} declares no asset-paths: the run report has no docs folder to write to"
        )
    return PROJECT_ROOT / folders[0]


def project_var(name: str) -> Any:
    """The default of var `name` as `dbt_project.yml` declares it (a copy: callers may change it)."""
    variables = _project_vars()
    if name not in variables:
        raise KeyError(f"dbt_project.yml declares no var {name!r}")
    return copy.deepcopy(variables[name])
