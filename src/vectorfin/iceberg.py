"""The project's Iceberg tables: their schemas, the catalog that holds them, and safe commits.

The catalog is the truth about a table: its current metadata file is what dbt's sources read
(see `resolve_table`), whoever committed last. Every commit the project itself makes also refreshes
`metadata/version-hint.text`, which lets a DuckDB session that cannot reach the catalog (the plain
`duckdb` CLI, a BI tool, `ml.runs.embeddings_table_sql`) read a table from its folder,
`iceberg_scan('<warehouse>/raw/transcript_chunks')`; a commit by any other writer leaves that hint
behind, so nothing that must see every commit reads by folder.

Concurrent writers: pyiceberg retries a commit that lost a race by re-applying the same change on
top of the winner's snapshot, without re-planning it: two loads that both found a chunk missing
would both append it. The project's tables therefore turn pyiceberg's retries off
(`commit.retry.num-retries` = 0): a commit either lands on the snapshot it was planned on or fails,
and `commit_planned` then reloads the table and plans again from what is now there.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.transforms import IdentityTransform, YearTransform
from pyiceberg.types import (
    IntegerType,
    NestedField,
    StringType,
    TimestampType,
    TimestamptzType,
)
from sqlalchemy.exc import OperationalError

from vectorfin.config import Settings

logger = logging.getLogger(__name__)

RAW_NAMESPACE = "raw"
TRANSCRIPT_CHUNKS = "transcript_chunks"
FILING_CHUNKS = "filing_chunks"
ROW_HASH = "row_hash"
# Columns that are not the row's content: neither part of its version nor compared between loads.
NON_CONTENT_COLUMNS = frozenset({"ingested_at", ROW_HASH})

# Every project table refuses pyiceberg's blind re-application of a lost commit (see the module doc).
TABLE_PROPERTIES = {TableProperties.COMMIT_NUM_RETRIES: "0"}
COMMIT_ATTEMPTS = 10
_FIRST_BACKOFF_SECONDS = 0.05
_MAX_BACKOFF_SECONDS = 5.0


def _fields(*specs: tuple[str, object, bool]) -> Schema:
    return Schema(
        *(
            NestedField(field_id=i, name=name, field_type=field_type, required=required)
            for i, (name, field_type, required) in enumerate(specs, start=1)
        )
    )


_COMMON_CHUNK_FIELDS: tuple[tuple[str, object, bool], ...] = (
    ("chunk_id", StringType(), True),
    ("doc_id", StringType(), True),
    ("source_dataset", StringType(), True),
    ("ticker", StringType(), False),
    ("company", StringType(), False),
    ("fiscal_period", StringType(), False),
    ("chunk_idx", IntegerType(), True),
    ("chunk_text", StringType(), False),
    ("knowledge_ts", TimestampType(), False),
    ("ingested_at", TimestamptzType(), True),
)
# Optional so that tables created before it existed gain it by schema evolution (`upgrade_table`).
_ROW_HASH_FIELD: tuple[str, object, bool] = (ROW_HASH, StringType(), False)

TRANSCRIPT_CHUNKS_SCHEMA = _fields(
    *_COMMON_CHUNK_FIELDS,
    ("section", StringType(), False),
    ("speaker", StringType(), False),
    ("speaker_role", StringType(), False),
    ("turn_idx", IntegerType(), False),
    _ROW_HASH_FIELD,
)

FILING_CHUNKS_SCHEMA = _fields(
    *_COMMON_CHUNK_FIELDS,
    ("form_type", StringType(), False),
    ("item", StringType(), False),
    ("page", IntegerType(), False),
    _ROW_HASH_FIELD,
)

RAW_TABLE_SCHEMAS: dict[str, Schema] = {
    TRANSCRIPT_CHUNKS: TRANSCRIPT_CHUNKS_SCHEMA,
    FILING_CHUNKS: FILING_CHUNKS_SCHEMA,
}


class SchemaDriftError(ValueError):
    """A table's columns differ from what the project writes, in a way no safe evolution repairs."""


class TableNotInCatalogError(LookupError):
    """The catalog does not know the table (or the snapshot) asked for."""


def raw_partition_spec(schema: Schema) -> PartitionSpec:
    """Partition by source and knowledge year: point-in-time reads prune whole years of files."""
    return PartitionSpec(
        PartitionField(
            source_id=schema.find_field("source_dataset").field_id,
            field_id=1000,
            transform=IdentityTransform(),
            name="source_dataset",
        ),
        PartitionField(
            source_id=schema.find_field("knowledge_ts").field_id,
            field_id=1001,
            transform=YearTransform(),
            name="knowledge_year",
        ),
    )


def get_catalog(settings: Settings | None = None) -> Catalog:
    """The configured catalog: SQLite `SqlCatalog` locally, REST or SQL when a URI says so.

    Extra properties (credentials, tokens) come from pyiceberg's own environment variables,
    `PYICEBERG_CATALOG__VECTORFIN__<PROPERTY>`, never from files in the project.
    """
    settings = settings or Settings.from_env()
    properties: dict[str, str] = {"warehouse": _as_uri(settings.warehouse)}
    uri = settings.catalog_uri
    if uri:
        properties["uri"] = uri
        properties["type"] = "rest" if urlparse(uri).scheme in {"http", "https"} else "sql"
    if properties.get("type") == "sql" and uri and uri.startswith("sqlite:///"):
        Path(uri.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    try:
        return load_catalog(settings.catalog_name, **properties)
    except OperationalError:
        # Two processes opening a new SQL catalog at once both create its tables; the loser fails
        # with "table already exists", after which the catalog opens normally.
        return load_catalog(settings.catalog_name, **properties)


def _as_uri(location: str) -> str:
    return location if "://" in location else f"file://{location}"


# Tables: create or load, check, upgrade ------------------------------------------------------------


def open_table(
    catalog: Catalog,
    namespace: str,
    name: str,
    schema: Schema,
    settings: Settings | None = None,
    partition_spec: PartitionSpec | None = None,
) -> Table:
    """Load `namespace.name`, creating it (and the namespace) at `<warehouse>/<namespace>/<name>`.

    Race-free: when another process creates the namespace or the table first, its table is loaded.
    """
    settings = settings or Settings.from_env()
    identifier = f"{namespace}.{name}"
    try:
        return catalog.load_table(identifier)
    except NoSuchTableError:
        pass
    try:
        catalog.create_namespace_if_not_exists(namespace)
    except Exception:
        if not catalog.namespace_exists(namespace):  # not a lost race: a real failure
            raise
    try:
        table = catalog.create_table(
            identifier,
            schema=schema,
            location=_as_uri(settings.table_location(namespace, name)),
            partition_spec=partition_spec or PartitionSpec(),
            properties=TABLE_PROPERTIES,
        )
    except TableAlreadyExistsError:
        return catalog.load_table(identifier)
    write_version_hint(table)
    return table


def schema_drift(table: Table, schema: Schema) -> list[str]:
    """How the table's columns differ from `schema` in ways that block writing (empty: none).

    A column of `schema` the table lacks is not drift when it is optional: `upgrade_table` adds it.
    """
    problems = []
    current = table.schema()
    expected_names = {field.name for field in schema.fields}
    for field in current.fields:
        if field.name not in expected_names:
            problems.append(f"column {field.name!r} ({field.field_type}) is not in the project's schema")
    for expected in schema.fields:
        found = current.find_field(expected.name) if expected.name in current.column_names else None
        if found is None:
            if expected.required:
                problems.append(f"required column {expected.name!r} ({expected.field_type}) is missing")
        elif found.field_type != expected.field_type:
            problems.append(
                f"column {expected.name!r} is {found.field_type}, the project writes {expected.field_type}"
            )
        elif found.required and not expected.required:
            problems.append(f"column {expected.name!r} is required, the project may write nulls to it")
    return [f"{table.name()[-2]}.{table.name()[-1]}: {problem}" for problem in problems]


def check_schemas(tables_and_schemas: list[tuple[Table, Schema]]) -> None:
    """Raise `SchemaDriftError` naming every table and column that drifted, before anything is written."""
    problems = [problem for table, schema in tables_and_schemas for problem in schema_drift(table, schema)]
    if problems:
        raise SchemaDriftError("schema drift: " + "; ".join(problems))


def upgrade_table(table: Table, schema: Schema) -> Table:
    """Add the optional columns of `schema` the table lacks and set `TABLE_PROPERTIES` (no data change).

    Two processes upgrading at once: the loser's commit fails, and on the reloaded table it finds
    the work done.
    """
    attempt = 1
    while True:
        try:
            return _upgrade_once(table, schema)
        except CommitFailedException:
            if attempt == COMMIT_ATTEMPTS:
                raise
            attempt += 1
            table.refresh()


def _upgrade_once(table: Table, schema: Schema) -> Table:
    missing = [field for field in schema.fields if field.name not in table.schema().column_names]
    if missing:
        with table.update_schema() as update:
            for field in missing:
                update.add_column(field.name, field.field_type, doc=field.doc)
    stale_properties = any(table.properties.get(key) != value for key, value in TABLE_PROPERTIES.items())
    if stale_properties:
        table.transaction().set_properties(TABLE_PROPERTIES).commit_transaction()
    if missing or stale_properties:
        write_version_hint(table)
    return table


def ensure_table(
    catalog: Catalog,
    namespace: str,
    name: str,
    schema: Schema,
    settings: Settings | None = None,
    partition_spec: PartitionSpec | None = None,
) -> Table:
    """The table, created when missing, checked for drift and upgraded to `schema`."""
    table = open_table(catalog, namespace, name, schema, settings, partition_spec)
    check_schemas([(table, schema)])
    return upgrade_table(table, schema)


def ensure_raw_tables(catalog: Catalog, settings: Settings | None = None) -> dict[str, Table]:
    """Both raw tables, created when missing; drift in either is reported before either is changed."""
    tables = {
        name: open_table(catalog, RAW_NAMESPACE, name, schema, settings, raw_partition_spec(schema))
        for name, schema in RAW_TABLE_SCHEMAS.items()
    }
    check_schemas([(tables[name], schema) for name, schema in RAW_TABLE_SCHEMAS.items()])
    return {name: upgrade_table(tables[name], schema) for name, schema in RAW_TABLE_SCHEMAS.items()}


def write_version_hint(table: Table) -> None:
    """Point `metadata/version-hint.text` at the table's current metadata file.

    DuckDB resolves a hint `H` to `metadata/H.metadata.json`, so the hint is the file's stem.
    Written through the table's own FileIO, so it works for `file://` and `gs://` alike.
    """
    metadata_dir, _, metadata_file = table.metadata_location.rpartition("/")
    stem = metadata_file.removesuffix(".metadata.json")
    with table.io.new_output(f"{metadata_dir}/version-hint.text").create(overwrite=True) as hint:
        hint.write(stem.encode())


# Commits planned on a snapshot ---------------------------------------------------------------------

# Stages the change a table needs, given its current state, in a transaction it does not commit;
# None when the table needs no change.
Planner = Callable[[Table], Transaction | None]


@dataclass(frozen=True)
class Staged:
    """A planned change, not committed yet, and the snapshot it was planned on."""

    table: Table
    transaction: Transaction | None
    base_snapshot_id: int | None


@dataclass(frozen=True)
class Committed:
    """A change that landed: the table moved from snapshot `before` to `after`."""

    table: Table
    before: int | None
    after: int


def _current_snapshot_id(table: Table) -> int | None:
    snapshot = table.current_snapshot()
    return snapshot.snapshot_id if snapshot else None


def stage(table: Table, planner: Planner) -> Staged:
    """Plan the change on the table's current state (data files are written, nothing is committed)."""
    table.refresh()
    return Staged(table, planner(table), _current_snapshot_id(table))


def commit_planned(staged: Staged, planner: Planner, attempts: int = COMMIT_ATTEMPTS) -> Committed | None:
    """Commit a staged change; when another writer committed first, reload and plan again.

    The commit asserts that the table is still at the snapshot the change was planned on, so a
    change is never applied to data its planner has not seen. None: nothing needed changing.
    """
    attempt = 1
    while staged.transaction is not None:
        try:
            staged.transaction.commit_transaction()
        except CommitFailedException as conflict:
            if attempt == attempts:
                raise CommitFailedException(
                    f"{staged.table.name()}: {attempts} attempts lost to concurrent commits ({conflict})"
                ) from conflict
            logger.info("%s changed while committing (%s); planning again", staged.table.name(), conflict)
            backoff = min(_MAX_BACKOFF_SECONDS, _FIRST_BACKOFF_SECONDS * 2**attempt)
            time.sleep(backoff * random.uniform(0.5, 1.5))
            attempt += 1
            staged = stage(staged.table, planner)
        else:
            write_version_hint(staged.table)
            return Committed(staged.table, staged.base_snapshot_id, _current_snapshot_id(staged.table))
    return None


def roll_back(committed: Committed) -> bool:
    """Point the table back at the snapshot before `committed`; False when another writer has
    committed on top since (their commit would be lost) or the catalog cannot be reached, in which
    case nothing changes. The rolled-back snapshot stays in the table's history (time travel).
    """
    table = committed.table
    try:
        table.refresh()
        if _current_snapshot_id(table) != committed.after:
            return False
        with table.manage_snapshots() as snapshots:  # asserts the table is still at `after`
            if committed.before is None:
                snapshots.remove_branch(MAIN_BRANCH)  # back to a table with no current snapshot
            else:
                snapshots.set_current_snapshot(committed.before)
        write_version_hint(table)
    except CommitFailedException:
        return False
    except Exception:  # called while handling another failure: report it, do not replace that one
        logger.exception("could not roll back %s to snapshot %s", table.name(), committed.before)
        return False
    return True


def existing_keys(table: Table, key: str) -> pa.Array:
    return table.scan(selected_fields=(key,)).to_arrow().column(key).combine_chunks()


def append_new_rows(table: Table, rows: pa.Table, key: str) -> int:
    """Append the rows whose `key` the table does not hold yet, in one commit; return how many.

    Loading the same rows twice therefore adds nothing, also when two writers append at once:
    the keys are checked again on the snapshot each commit lands on.
    """
    rows = rows.cast(table.schema().as_arrow())
    first_rows = (
        rows.select([key])
        .append_column("row_number", pa.array(range(rows.num_rows), pa.int64()))
        .group_by(key)
        .aggregate([("row_number", "min")])
        .column("row_number_min")
    )
    rows = rows.take(first_rows.sort())
    appended = 0

    def plan(current: Table) -> Transaction | None:
        nonlocal appended
        new_rows = rows
        if rows.num_rows and current.current_snapshot() is not None:
            new_rows = rows.filter(
                pc.invert(pc.is_in(rows.column(key), value_set=existing_keys(current, key)))
            )
        appended = new_rows.num_rows
        if appended == 0:
            return None
        transaction = current.transaction()
        transaction.append(new_rows)
        return transaction

    commit_planned(stage(table, plan), plan)
    return appended


# Reading what the catalog says ---------------------------------------------------------------------


@dataclass(frozen=True)
class ResolvedTable:
    """One table as the catalog names it: the metadata file to read and the snapshot in it."""

    identifier: str
    metadata_location: str
    snapshot_id: int | None  # None: the table has no snapshot yet (created, never written)
    pinned: bool  # a snapshot asked for, rather than the current one

    @property
    def scan_sql(self) -> str:
        """DuckDB's `iceberg_scan` of exactly this metadata file and snapshot (filters still prune)."""
        location = self.metadata_location.replace("'", "''")
        if self.pinned:
            return f"iceberg_scan('{location}', snapshot_from_id={int(self.snapshot_id)})"
        return f"iceberg_scan('{location}')"


def resolve_table(
    catalog: Catalog, identifier: str, snapshot_id: int | None = None, settings: Settings | None = None
) -> ResolvedTable:
    """The table's current metadata file, per the catalog, and its current (or the given) snapshot."""
    settings = settings or Settings.from_env()
    try:
        table = catalog.load_table(identifier)
    except NoSuchTableError:
        raise TableNotInCatalogError(
            f"{settings.catalog_description} has no table {identifier}: load a corpus first "
            "(python -m vectorfin load PATH), or check VECTORFIN_CATALOG_URI and VECTORFIN_WAREHOUSE"
        ) from None
    if snapshot_id is None:
        return ResolvedTable(identifier, table.metadata_location, _current_snapshot_id(table), pinned=False)
    if table.snapshot_by_id(snapshot_id) is None:
        raise TableNotInCatalogError(
            f"{settings.catalog_description}: table {identifier} has no snapshot {snapshot_id} "
            "(expired, or never taken); its snapshots: "
            + ", ".join(str(snapshot.snapshot_id) for snapshot in table.snapshots()[-5:])
        )
    return ResolvedTable(identifier, table.metadata_location, snapshot_id, pinned=True)
