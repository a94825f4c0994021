"""dbt-duckdb plugin: every dbt connection gets DuckDB's iceberg extension, installed offline,
the `vectorfin_embed` function the `semantic_search` macro calls, and the
`vectorfin_iceberg_read` function through which the `raw` sources resolve their Iceberg tables.

dbt-duckdb's own `extensions:` setting would fetch extensions from DuckDB's server, which this
project must never need; the plugin installs them from their PyPI packages instead.
"""

from __future__ import annotations

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from vectorfin.catalog_reads import register_read_function
from vectorfin.duck import load_extensions
from vectorfin.search import register_embed_function


class Plugin(BasePlugin):
    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        load_extensions(conn)
        register_embed_function(conn)
        register_read_function(conn)
