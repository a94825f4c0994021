"""dbt-duckdb plugin. Every dbt connection gets DuckDB's iceberg, fts and vss extensions, installed offline,
and the functions the project's SQL calls: `vectorfin_embed`, `vectorfin_rrf_score` and
`vectorfin_search_target` (the `semantic_search` macro); those that name, check and publish the HNSW
index file (`vectorfin.search_index`); the full-text index's statement (`vectorfin.keyword_index`);
`vectorfin_paired_interval` (run_comparison's paired bootstrap interval, `vectorfin.ml.intervals`);
`vectorfin_iceberg_read` (through which the `raw` sources resolve their Iceberg tables in the catalog);
the settings check the `on-run-start` hook calls (`vectorfin_setting_names()`,
`vectorfin_validate_settings(json, json)`) and the pair strategies' settings rule
(`vectorfin_pair_strategy_setting`). The package's log lines (training progress, say) go to
dbt's log.

dbt-duckdb's own `extensions:` setting would fetch extensions from DuckDB's server, which this
project must never need; the plugin installs them from their PyPI packages instead.
"""

from __future__ import annotations

from typing import Any

from dbt.adapters.duckdb.plugins import BasePlugin
from duckdb import DuckDBPyConnection

from vectorfin.catalog_reads import register_read_function
from vectorfin.config.locations import LocationError, check_duckdb_path
from vectorfin.config.validation import (
    PAIR_STRATEGY_SETTING_FUNCTION,
    pair_strategy_setting_json,
    setting_names,
    validate_settings_json,
)
from vectorfin.dbt_logging import route_package_logs_to_dbt
from vectorfin.duck import install_extensions, load_extensions
from vectorfin.keyword_index import register_keyword_index_function
from vectorfin.ml.intervals import PAIRED_INTERVAL_FUNCTION, paired_interval_sql
from vectorfin.search import register_search_functions
from vectorfin.search_index import register_search_index_functions

SETTING_NAMES_FUNCTION = "vectorfin_setting_names"
VALIDATE_SETTINGS_FUNCTION = "vectorfin_validate_settings"


class Plugin(BasePlugin):
    def initialize(self, plugin_config: dict[str, Any]) -> None:
        try:
            check_duckdb_path(self.creds.path)  # before dbt-duckdb's first catalog query on the file
        except LocationError as error:
            raise RuntimeError(str(error)) from None  # what dbt-duckdb reports as a failed connection
        route_package_logs_to_dbt()
        # Before dbt-duckdb opens the database and runs the profile's `extensions:` (the remote
        # target's httpfs): installed already, its INSTALL is a no-op instead of a download.
        install_extensions()

    def configure_connection(self, conn: DuckDBPyConnection) -> None:
        load_extensions(conn)
        register_search_functions(conn)
        register_search_index_functions(conn, self.creds.path)
        register_keyword_index_function(conn)
        register_read_function(conn)
        conn.create_function(SETTING_NAMES_FUNCTION, setting_names, [], "VARCHAR[]")
        conn.create_function(
            VALIDATE_SETTINGS_FUNCTION, validate_settings_json, ["VARCHAR", "VARCHAR"], "VARCHAR"
        )
        conn.create_function(
            PAIR_STRATEGY_SETTING_FUNCTION, pair_strategy_setting_json, ["VARCHAR"] * 4, "VARCHAR"
        )
        conn.create_function(PAIRED_INTERVAL_FUNCTION, paired_interval_sql, ["DOUBLE[]"] * 2, "DOUBLE[]")
