"""dbt-duckdb plugin: every dbt connection gets DuckDB's iceberg extension, installed offline,
and the `vectorfin_embed` function the `semantic_search` macro calls; the package's log lines
(training progress, say) go to dbt's log.

dbt-duckdb's own `extensions:` setting would fetch extensions from DuckDB's server, which this
project must never need; the plugin installs them from their PyPI packages instead.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from vectorfin.dbt_logging import route_package_logs_to_dbt
from vectorfin.duck import load_extensions
from vectorfin.search import register_embed_function


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        route_package_logs_to_dbt()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        load_extensions(conn)
        register_embed_function(conn)
