"""The dbt project's vars: their defaults, read from `dbt_project.yml`, and their values as dbt hands them
to Python models.

Every default is written once, in `dbt_project.yml`: the ML package, the quality gate and the settings
validation read their defaults from the project's `vars`, so a knob an analyst sees there is the very
value the Python code falls back to. Python models get a var rendered as JSON text by
`{{ tojson(var(...)) }}`; `mapping_setting` reads it back.
"""

from __future__ import annotations

import copy
import json
import math
from collections.abc import Mapping
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


def mapping_setting(name: str, value: Any) -> dict[str, Any]:
    """The mapping a dbt config holds (JSON text or already a value); empty when unset."""
    if value in (None, "", "null", "None"):
        return {}
    parsed = json.loads(value) if isinstance(value, str) else value
    if parsed is None:
        return {}
    if not isinstance(parsed, Mapping):
        raise ValueError(f"dbt setting {name!r} must be a mapping, got {parsed!r}")
    return dict(parsed)


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool (YAML and JSON numbers; text is not a number here)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
