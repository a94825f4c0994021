"""Reading Iceberg tables where the catalog says, whoever committed to them last.

* dbt: the plugin registers `vectorfin_iceberg_read(namespace, table, pins, invocation_id)`, which
  the project's `source()` override calls at compile time (macros/sources/source.sql). It returns
  the read as JSON: the current metadata file per the catalog (or the snapshot pinned by the var
  `raw_snapshot_ids`, given as `pins`) and the `iceberg_scan(...)` to compile in. The answer is
  kept per dbt invocation, so every model, test and `stg_raw__snapshots_read` of one run reads the same
  snapshot even when a load commits mid-run.
* ad-hoc queries: `create_catalog_views` makes a view `<namespace>.<table>` for every table the
  catalog holds (what `python -m vectorfin query` sets up).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from duckdb import DuckDBPyConnection

from vectorfin.config.locations import StateLocations

if TYPE_CHECKING:
    from vectorfin.iceberg import ResolvedTable

READ_FUNCTION = "vectorfin_iceberg_read"
PINS_VAR = "raw_snapshot_ids"

_reads: dict[tuple[str, str, str, str], ResolvedTable] = {}  # (invocation, namespace, table, pins)
_reads_lock = threading.Lock()


def pinned_snapshot(
    namespace: str, table: str, pins: Any, known_tables: list[str], settings: StateLocations
) -> int | None:
    """The snapshot id `pins` (the var `raw_snapshot_ids`: {table: snapshot_id}) gives the table."""
    if pins in (None, "", {}):
        return None
    if not isinstance(pins, Mapping):
        raise ValueError(f"var {PINS_VAR} must map table names to snapshot ids, got {pins!r}")
    unknown = unknown_pinned_tables(namespace, pins, known_tables, settings)
    if unknown:
        raise ValueError(f"var {PINS_VAR} {unknown}")
    snapshot_id = pins.get(table)
    if snapshot_id is None:
        return None
    if isinstance(snapshot_id, str) and snapshot_id.strip().isdigit():
        snapshot_id = int(snapshot_id)
    if isinstance(snapshot_id, bool) or not isinstance(snapshot_id, int) or snapshot_id <= 0:
        raise ValueError(f"var {PINS_VAR}: {table} must be a positive snapshot id, got {snapshot_id!r}")
    return snapshot_id


def unknown_pinned_tables(
    namespace: str, pins: Mapping[str, Any], known_tables: list[str], settings: StateLocations
) -> str:
    """What is wrong with the tables `pins` names ('' when the catalog holds them all)."""
    unknown = sorted(set(pins) - set(known_tables))
    if not unknown:
        return ""
    return (
        f"names tables {settings.catalog_description} does not hold in namespace {namespace!r}: "
        f"{', '.join(map(repr, unknown))} (it holds {', '.join(sorted(known_tables)) or 'none'})"
    )


def pin_problems(pins: Mapping[str, int]) -> list[str]:
    """The settings check's look at `raw_snapshot_ids` (whole numbers already): the tables it names and
    their snapshots, in the catalog, before any node runs rather than when the sources resolve."""
    from pyiceberg.exceptions import NoSuchNamespaceError

    from vectorfin.iceberg import RAW_NAMESPACE, TableNotInCatalogError, get_catalog, resolve_table

    settings = StateLocations.from_env()
    catalog = get_catalog(settings)
    try:
        known = [name for _, name in catalog.list_tables(RAW_NAMESPACE)]
    except NoSuchNamespaceError:
        known = []
    unknown = unknown_pinned_tables(RAW_NAMESPACE, pins, known, settings)
    problems = [unknown] if unknown else []
    for table in sorted(set(pins) & set(known)):
        try:
            resolve_table(catalog, f"{RAW_NAMESPACE}.{table}", pins[table], settings)
        except TableNotInCatalogError as error:
            problems.append(str(error))
    return problems


def read_table(namespace: str, table: str, pins_json: str, invocation_id: str) -> str:
    """The read of `namespace.table` for one dbt invocation, as JSON (see the module doc)."""
    key = (invocation_id, namespace, table, pins_json)
    with _reads_lock:
        if key not in _reads:
            _reads[key] = _resolve(namespace, table, json.loads(pins_json) if pins_json else None)
        resolved = _reads[key]
    return json.dumps({**asdict(resolved), "scan_sql": resolved.scan_sql})


def _resolve(namespace: str, table: str, pins: Any) -> ResolvedTable:
    from vectorfin.iceberg import get_catalog, resolve_table  # pyiceberg: only for runs that read raw

    settings = StateLocations.from_env()
    catalog = get_catalog(settings)
    known = [name for _, name in catalog.list_tables(namespace)] if pins else []
    snapshot_id = pinned_snapshot(namespace, table, pins, known, settings)
    return resolve_table(catalog, f"{namespace}.{table}", snapshot_id, settings)


def register_read_function(connection: DuckDBPyConnection) -> None:
    connection.create_function(
        READ_FUNCTION, read_table, ["VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR", side_effects=True
    )


def create_catalog_views(connection: DuckDBPyConnection, settings: StateLocations | None = None) -> list[str]:
    """A view `<namespace>.<table>` over each catalog table's current metadata file; their names."""
    from vectorfin.iceberg import get_catalog, resolve_table

    settings = settings or StateLocations.from_env()
    catalog = get_catalog(settings)
    created = []
    for namespace in catalog.list_namespaces():
        for identifier in catalog.list_tables(namespace):
            schema_name, table_name = identifier[-2], identifier[-1]
            resolved = resolve_table(catalog, f"{schema_name}.{table_name}", settings=settings)
            connection.execute(f"create schema if not exists {_quoted(schema_name)}")
            connection.execute(
                f"create or replace view {_quoted(schema_name)}.{_quoted(table_name)} "
                f"as select * from {resolved.scan_sql}"
            )
            created.append(f"{schema_name}.{table_name}")
    return created


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'
