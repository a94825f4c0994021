"""Where the project keeps its local state; every path can be overridden by an environment variable.

The same variables are read by `profiles/profiles.yml`, so dbt, the loader and the ML code
always agree on one warehouse, one catalog and one DuckDB file.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]


def _path_from_env(name: str, default: Path) -> Path:
    value = os.environ.get(name)
    return Path(value).expanduser().resolve() if value else default


@dataclass(frozen=True)
class Settings:
    """Resolved locations of the local warehouse, catalog, DuckDB database and artifacts."""

    warehouse: str
    catalog_name: str
    catalog_uri: str | None
    duckdb_path: Path
    artifacts_dir: Path

    @classmethod
    def from_env(cls) -> Settings:
        warehouse = os.environ.get("VECTORFIN_WAREHOUSE") or str(PROJECT_ROOT / "warehouse")
        local_warehouse = "://" not in warehouse
        if local_warehouse:
            warehouse = str(Path(warehouse).expanduser().resolve())
        default_uri = f"sqlite:///{warehouse}/catalog.db" if local_warehouse else None
        return cls(
            warehouse=warehouse,
            catalog_name=os.environ.get("VECTORFIN_CATALOG_NAME", "vectorfin"),
            catalog_uri=os.environ.get("VECTORFIN_CATALOG_URI", default_uri),
            duckdb_path=_path_from_env("VECTORFIN_DUCKDB_PATH", PROJECT_ROOT / "vectorfin.duckdb"),
            artifacts_dir=_path_from_env("VECTORFIN_ARTIFACTS", PROJECT_ROOT / "artifacts"),
        )

    @property
    def docs_assets_dir(self) -> Path:
        """Where the run report copies its charts for the lineage docs: $VECTORFIN_DOCS_ASSETS, else the
        folder `asset-paths` names in dbt_project.yml, which `dbt docs generate` copies into target/.
        Resolved when asked, so only the report depends on that setting. Tests point it elsewhere."""
        from vectorfin.project import docs_assets_folder  # here, not at the top: project imports this module

        value = os.environ.get("VECTORFIN_DOCS_ASSETS")
        return Path(value).expanduser().resolve() if value else docs_assets_folder()

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
