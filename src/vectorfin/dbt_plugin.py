"""dbt-duckdb plugin: every dbt connection gets DuckDB's iceberg extension, installed offline.

dbt-duckdb's own `extensions:` setting would fetch extensions from DuckDB's server, which this
project must never need; the plugin installs them from their PyPI packages instead.
"""

from __future__ import annotations

from duckdb import DuckDBPyConnection
from dbt.adapters.duckdb.plugins import BasePlugin

from vectorfin.duck import load_extensions


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        load_extensions(conn)
