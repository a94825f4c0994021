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

Files of changes that do not land: a staged change writes its data files and manifests before it
commits. Every file it writes is noted (`stage`), and when its planning or commit fails, or it loses a
race and is planned again, the files no snapshot references are deleted (`discard`): a failed write
on a full disk leaves no unreferenced files taking the space a later load needs.
"""

from __future__ import annotations

import errno
import logging
import os
import random
import re
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import pyarrow as pa
import pyarrow.compute as pc
from pyiceberg.catalog import Catalog, load_catalog
from pyiceberg.exceptions import CommitFailedException, NoSuchTableError, TableAlreadyExistsError
from pyiceberg.io import FileIO, InputFile, OutputFile, OutputStream
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table, TableProperties, Transaction
from pyiceberg.table.refs import MAIN_BRANCH
from pyiceberg.table.snapshots import Snapshot, ancestors_of
from pyiceberg.transforms import IdentityTransform, YearTransform
from pyiceberg.types import (
    IntegerType,
    NestedField,
    StringType,
    TimestampType,
    TimestamptzType,
)
from sqlalchemy.exc import OperationalError

from vectorfin.config.locations import StateLocations

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


def get_catalog(settings: StateLocations | None = None) -> Catalog:
    """The configured catalog: SQLite `SqlCatalog` locally, REST or SQL when a URI says so.

    Extra properties (credentials, tokens) come from pyiceberg's own environment variables,
    `PYICEBERG_CATALOG__VECTORFIN__<PROPERTY>`, never from files in the project.
    """
    settings = settings or StateLocations.from_env()
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
    settings: StateLocations | None = None,
    partition_spec: PartitionSpec | None = None,
) -> Table:
    """Load `namespace.name`, creating it (and the namespace) at `<warehouse>/<namespace>/<name>`.

    Race-free: when another process creates the namespace or the table first, its table is loaded.
    """
    settings = settings or StateLocations.from_env()
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
    settings: StateLocations | None = None,
    partition_spec: PartitionSpec | None = None,
) -> Table:
    """The table, created when missing, checked for drift and upgraded to `schema`."""
    table = open_table(catalog, namespace, name, schema, settings, partition_spec)
    check_schemas([(table, schema)])
    return upgrade_table(table, schema)


def ensure_raw_tables(catalog: Catalog, settings: StateLocations | None = None) -> dict[str, Table]:
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
    A hint that cannot be written (a full disk) leaves the commit standing: readers by folder see an
    older snapshot until the next commit, which the module doc allows for.
    """
    metadata_dir, _, metadata_file = table.metadata_location.rpartition("/")
    stem = metadata_file.removesuffix(".metadata.json")
    location = f"{metadata_dir}/version-hint.text"
    try:
        with table.io.new_output(location).create(overwrite=True) as hint:
            hint.write(stem.encode())
    except OSError as error:
        logger.warning("%s was not updated (%s): reads by folder see an older snapshot", location, error)


# Writes that fail for lack of space or permission --------------------------------------------------

_NO_SPACE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT})
_NOT_WRITABLE_SQLITE_CODES = frozenset(
    {sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM}
)
_NO_SPACE_ADVICE = "free space on its disk, then run again"
_NOT_WRITABLE_ADVICE = (
    "make the warehouse and its catalog writable (permissions, read-only mounts, immutable flags: "
    "lsattr), then run again"
)
# pyarrow's OSErrors carry no filename; a failed open names the file in the message.
_PYARROW_PATH = re.compile(r"local file '([^']+)'")


def storage_failure(error: BaseException, settings: StateLocations | None = None) -> str | None:
    """What to tell the user when a write to the warehouse or its SQLite catalog failed for lack of
    space or of permission: the path and what to do. None for any other error."""
    if isinstance(error, OperationalError) and isinstance(error.orig, sqlite3.Error):
        code = getattr(error.orig, "sqlite_errorcode", None)
        if code != sqlite3.SQLITE_FULL and code not in _NOT_WRITABLE_SQLITE_CODES:
            return None
        uri = (settings or StateLocations.from_env()).catalog_uri or ""
        advice = _NO_SPACE_ADVICE if code == sqlite3.SQLITE_FULL else _NOT_WRITABLE_ADVICE
        return f"catalog {uri.removeprefix('sqlite:///')}: {error.orig}; {advice}"
    if not isinstance(error, OSError):
        return None
    no_space = error.errno in _NO_SPACE_ERRNOS
    if not (no_space or isinstance(error, PermissionError) or error.errno == errno.EROFS):
        return None
    named = _PYARROW_PATH.search(str(error))
    path = error.filename or (named[1] if named else (settings or StateLocations.from_env()).warehouse)
    detail = os.strerror(error.errno) if error.errno else str(error)
    return f"{path}: {detail}; {_NO_SPACE_ADVICE if no_space else _NOT_WRITABLE_ADVICE}"


# Commits planned on a snapshot ---------------------------------------------------------------------

# Stages the change a table needs, given its current state, in a transaction it does not commit;
# None when the table needs no change.
Planner = Callable[[Table], Transaction | None]


class _NotingFileIO(FileIO):
    """A table's FileIO that notes every file it creates: the files of a staged change."""

    def __init__(self, io: FileIO) -> None:
        super().__init__(io.properties)
        self._io = io
        self.written: list[str] = []
        self._discarded = False
        self._creating = threading.Lock()

    def new_input(self, location: str) -> InputFile:
        return self._io.new_input(location)

    def new_output(self, location: str) -> OutputFile:
        return _NotedOutputFile(self._io.new_output(location), self)

    def delete(self, location: str | InputFile | OutputFile) -> None:
        self._io.delete(location)

    def create(self, output: OutputFile, overwrite: bool) -> OutputStream:
        # pyiceberg writes data files on a thread pool, and a failed write does not stop the others:
        # files are created and noted under the lock, so none is created after `delete_written` (one
        # still being written then is unlinked on a local disk; an object store may yet receive it).
        with self._creating:
            if self._discarded:
                raise OSError(f"not writing {output.location}: its change was discarded")
            self.written.append(output.location)
            return output.create(overwrite=overwrite)

    def delete_written(self, keep: frozenset[str] = frozenset()) -> None:
        """Delete the files created, except `keep`; no file is created through this FileIO after."""
        with self._creating:
            self._discarded = True
        for location in self.written:
            if location in keep:
                continue
            try:
                self._io.delete(location)
            except FileNotFoundError:
                pass  # its creation failed
            except OSError as error:
                logger.warning("could not delete %s (of a change that did not land): %s", location, error)


class _NotedOutputFile(OutputFile):
    """An OutputFile whose file is created through `_NotingFileIO.create`."""

    def __init__(self, output: OutputFile, files: _NotingFileIO) -> None:
        super().__init__(output.location)
        self._output = output
        self._files = files

    def __len__(self) -> int:
        return len(self._output)

    def exists(self) -> bool:
        return self._output.exists()

    def to_input_file(self) -> InputFile:
        return self._output.to_input_file()

    def create(self, overwrite: bool = False) -> OutputStream:
        return self._files.create(self._output, overwrite)


@dataclass(frozen=True)
class Staged:
    """A planned change, not committed yet, the snapshot it was planned on and the files it wrote."""

    table: Table
    transaction: Transaction | None
    base_snapshot_id: int | None
    files: _NotingFileIO


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
    """Plan the change on the table's current state (data files are written, nothing is committed);
    when planning fails, the files it wrote are deleted."""
    table.refresh()
    files = _NotingFileIO(table.io)
    table.io = files  # the transaction the planner opens writes through the table's FileIO
    try:
        transaction = planner(table)
    except BaseException:
        files.delete_written()
        raise
    return Staged(table, transaction, _current_snapshot_id(table), files)


def discard(staged: Staged) -> None:
    """Delete the files `staged` wrote, after its commit failed or was never tried. Files that a snapshot
    other than its base and the base's ancestors references stay: a commit can land although the
    catalog reported a failure (a REST catalog's lost reply)."""
    table = staged.table
    try:
        table.refresh()
        base = table.snapshot_by_id(staged.base_snapshot_id) if staged.base_snapshot_id is not None else None
        older = {snapshot.snapshot_id for snapshot in ancestors_of(base, table.metadata)}
        newer = [snapshot for snapshot in table.snapshots() if snapshot.snapshot_id not in older]
        referenced = _referenced_files(newer, table.io)
    except Exception as error:  # called while handling another failure: report it, do not replace that one
        logger.warning(
            "%s: could not check which of the %d files of a failed change a snapshot references, so they "
            "stay (%s)",
            table.name(),
            len(staged.files.written),
            error,
        )
        return
    staged.files.delete_written(keep=referenced)


def _referenced_files(snapshots: list[Snapshot], io: FileIO) -> frozenset[str]:
    """The manifest lists, manifests and data files the snapshots reference."""
    referenced: set[str] = set()
    for snapshot in snapshots:
        referenced.add(snapshot.manifest_list)
        for manifest in snapshot.manifests(io):
            if manifest.manifest_path not in referenced:
                referenced.add(manifest.manifest_path)
                entries = manifest.fetch_manifest_entry(io, discard_deleted=False)
                referenced.update(entry.data_file.file_path for entry in entries)
    return frozenset(referenced)


def commit_planned(staged: Staged, planner: Planner, attempts: int = COMMIT_ATTEMPTS) -> Committed | None:
    """Commit a staged change; when another writer committed first, reload and plan again.

    The commit asserts that the table is still at the snapshot the change was planned on, so a
    change is never applied to data its planner has not seen. None: nothing needed changing. A
    change that does not land leaves no files (`discard`).
    """
    attempt = 1
    while staged.transaction is not None:
        try:
            staged.transaction.commit_transaction()
        except CommitFailedException as conflict:
            staged.files.delete_written()  # a lost race: nothing of this plan landed
            if attempt == attempts:
                raise CommitFailedException(
                    f"{staged.table.name()}: {attempts} attempts lost to concurrent commits ({conflict})"
                ) from conflict
            logger.info("%s changed while committing (%s); planning again", staged.table.name(), conflict)
            backoff = min(_MAX_BACKOFF_SECONDS, _FIRST_BACKOFF_SECONDS * 2**attempt)
            time.sleep(backoff * random.uniform(0.5, 1.5))
            attempt += 1
            staged = stage(staged.table, planner)
        except BaseException:
            discard(staged)
            raise
        else:
            write_version_hint(staged.table)
            return Committed(staged.table, staged.base_snapshot_id, _current_snapshot_id(staged.table))
    return None


def roll_back(committed: Committed) -> str | None:
    """Point the table back at the snapshot before `committed`. None when done; otherwise nothing
    changes and the answer says why: another writer has committed on top since (their commit would
    be lost), or the catalog could not be written. The rolled-back snapshot stays in the table's
    history (time travel).
    """
    table = committed.table
    on_top = "another writer committed on top"
    try:
        table.refresh()
        if _current_snapshot_id(table) != committed.after:
            return on_top
        with table.manage_snapshots() as snapshots:  # asserts the table is still at `after`
            if committed.before is None:
                snapshots.remove_branch(MAIN_BRANCH)  # back to a table with no current snapshot
            else:
                snapshots.set_current_snapshot(committed.before)
    except CommitFailedException:
        return on_top
    except Exception as error:  # called while handling another failure: report it, do not replace that one
        return storage_failure(error) or f"{type(error).__name__}: {error}"
    write_version_hint(table)
    return None


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
    catalog: Catalog, identifier: str, snapshot_id: int | None = None, settings: StateLocations | None = None
) -> ResolvedTable:
    """The table's current metadata file, per the catalog, and its current (or the given) snapshot."""
    settings = settings or StateLocations.from_env()
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
