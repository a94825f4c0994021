"""Where the project keeps its local state; every path can be overridden by an environment variable.

The variables and their defaults are written once, in the project's `env.sh`, which the Makefile, the
virtualenv's activate script and CI source; `project_environment` applies the same lines in Python
(for the tests' dbt subprocesses, and for Python started without the environment). The same variables
are read by `profiles/profiles.yml`, so dbt, the loader and the ML code always agree on one warehouse,
one catalog and one DuckDB file.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.project_vars import docs_assets_folder

ENV_FILE = PROJECT_ROOT / "env.sh"

# The two kinds of setting line env.sh holds (its header asks to keep them in these forms).
_DEFAULT_PATH_LINE = re.compile(r"vectorfin_default_path ([A-Z][A-Z0-9_]*) (\S+)")
_FIXED_LINE = re.compile(r"export ([A-Z][A-Z0-9_]*)=(\S+)")


@cache
def _env_file_settings() -> tuple[dict[str, str], dict[str, str]]:
    """({name: path inside the project} defaults, {name: value} always set), as env.sh declares them."""
    default_paths: dict[str, str] = {}
    fixed: dict[str, str] = {}
    for line in ENV_FILE.read_text(encoding="utf-8").splitlines():
        if match := _DEFAULT_PATH_LINE.fullmatch(line.strip()):
            default_paths[match[1]] = match[2]
        elif match := _FIXED_LINE.fullmatch(line.strip()):
            fixed[match[1]] = match[2]
    if not default_paths or not fixed:
        raise RuntimeError(f"{ENV_FILE} declares no settings in the forms vectorfin.config.locations reads")
    return default_paths, fixed


def project_environment(environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """`environ` (default: this process's) with env.sh applied, as `source env.sh` would apply it:
    paths unset or empty get their default inside the project folder, the offline settings are set."""
    environment = dict(os.environ if environ is None else environ)
    default_paths, fixed = _env_file_settings()
    for name, relative_path in default_paths.items():
        if not environment.get(name):
            environment[name] = f"{PROJECT_ROOT}/{relative_path}"
    environment.update(fixed)
    return environment


def _path_from_env(environment: Mapping[str, str], name: str) -> Path:
    return Path(environment[name]).expanduser().resolve()


class LocationError(ValueError):
    """A location setting the project cannot work with; the message names it and what to do."""


def check_duckdb_path(path: str | Path) -> None:
    """Refuse a DuckDB file whose name has an apostrophe: DuckDB names the database after the file, and
    dbt-duckdb puts that name in its catalog queries unescaped, so dbt stops with a parser error.
    Called by `StateLocations.from_env` and, before dbt opens the file, by the dbt plugin."""
    path = Path(path)
    if "'" in path.name:
        renamed = path.with_name(path.name.replace("'", ""))
        raise LocationError(
            f"VECTORFIN_DUCKDB_PATH {path}: the file name has an apostrophe, which dbt-duckdb's catalog "
            f"queries cannot quote (the database takes the file's name); use a name without one, such as "
            f"{renamed}"
        )


@dataclass(frozen=True)
class StateLocations:
    """Where the project keeps its local state: the resolved locations of the local warehouse, catalog,
    DuckDB database and artifacts, as the environment (or env.sh's defaults) sets them."""

    warehouse: str
    catalog_name: str
    catalog_uri: str | None
    duckdb_path: Path
    artifacts_dir: Path

    @classmethod
    def from_env(cls) -> StateLocations:
        environment = project_environment()
        warehouse = environment["VECTORFIN_WAREHOUSE"]
        local_warehouse = "://" not in warehouse
        if local_warehouse:
            warehouse = str(Path(warehouse).expanduser().resolve())
        default_uri = f"sqlite:///{warehouse}/catalog.db" if local_warehouse else None
        duckdb_path = _path_from_env(environment, "VECTORFIN_DUCKDB_PATH")
        check_duckdb_path(duckdb_path)
        return cls(
            warehouse=warehouse,
            catalog_name=environment.get("VECTORFIN_CATALOG_NAME", "vectorfin"),
            catalog_uri=environment.get("VECTORFIN_CATALOG_URI", default_uri),
            duckdb_path=duckdb_path,
            artifacts_dir=_path_from_env(environment, "VECTORFIN_ARTIFACTS"),
        )

    @property
    def docs_assets_dir(self) -> Path:
        """Where the run report copies its charts for the lineage docs: $VECTORFIN_DOCS_ASSETS, else the
        folder `asset-paths` names in dbt_project.yml, which `dbt docs generate` copies into target/.
        Resolved when asked, so only the report depends on that setting. Tests point it elsewhere."""
        value = os.environ.get("VECTORFIN_DOCS_ASSETS")
        return Path(value).expanduser().resolve() if value else docs_assets_folder()

    @property
    def mlflow_dir(self) -> Path:
        """The local MLflow store and its artifacts: a folder of the artifacts folder."""
        return self.artifacts_dir / "mlflow"

    @property
    def mlflow_tracking_uri(self) -> str:
        """Where training runs are logged: $MLFLOW_TRACKING_URI (any MLflow tracking server or store),
        else the SQLite file in `mlflow_dir` (`mlflow ui --backend-store-uri <this>` shows it)."""
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def is_local(self) -> bool:
        return "://" not in self.warehouse

    @property
    def catalog_description(self) -> str:
        """How error messages name the configured catalog: its name and where its tables live."""
        return f"catalog {self.catalog_name!r} (warehouse {self.warehouse})"

    def table_location(self, namespace: str, table: str) -> str:
        """Tables live at `<warehouse>/<namespace>/<table>`, the path `iceberg_scan()` is given."""
        return f"{self.warehouse}/{namespace}/{table}"
