"""`load_corpus`: read and validate every file, chunk, then bring each document up to date.

Identity and versions: a chunk's id comes from its document and its own text (`records.chunk_id`),
its `row_hash` from every content column. A load compares, per document (source_dataset, doc_id),
the chunk ids and row hashes it made with those in the table:

* new: the table holds no row of the document; its rows are appended;
* unchanged: the same ids and hashes; nothing is written;
* replaced: anything differs (a corrected date or ticker, an inserted turn); the document's rows
  are deleted and the new ones appended in the same commit. The old version stays readable by
  time travel. Rows whose id and hash are unchanged keep their first `ingested_at`.

Documents the input does not hold are never touched.

All or nothing: every file is read and validated, and each table's change planned and its data
files written, before the first commit. A commit lands only on the snapshot it was planned on
(`iceberg.commit_planned`: concurrent loads re-plan instead of duplicating rows), and when one
table's commit fails, the tables committed before it are rolled back to their previous snapshot.
A load that fails deletes the data files it wrote that no snapshot references (`iceberg.discard`);
a full disk or a read-only warehouse is reported with the path and what to do
(`iceberg.storage_failure`).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
from pyiceberg.catalog import Catalog
from pyiceberg.expressions import And, BooleanExpression, EqualTo, In, Or
from pyiceberg.schema import Schema
from pyiceberg.table import Table, Transaction
from sqlalchemy.exc import OperationalError
from tqdm import tqdm

from vectorfin.config.locations import StateLocations
from vectorfin.iceberg import (
    RAW_NAMESPACE,
    RAW_TABLE_SCHEMAS,
    ROW_HASH,
    Committed,
    SchemaDriftError,
    Staged,
    check_schemas,
    commit_planned,
    discard,
    ensure_raw_tables,
    get_catalog,
    roll_back,
    stage,
    storage_failure,
)
from vectorfin.loading.chunking import chunk_documents, content_limit
from vectorfin.loading.readers import read_corpora
from vectorfin.loading.records import Document, TableRows
from vectorfin.loading.validation import LoadError

DocumentKey = tuple[str, str]  # (source_dataset, doc_id)
RowVersion = tuple[str, str | None]  # (chunk_id, row_hash); rows loaded before row_hash existed have None
LoadedRows = dict[DocumentKey, list[tuple[RowVersion, dt.datetime]]]  # with each row's ingested_at
_VERSION_COLUMNS = ("source_dataset", "doc_id", "chunk_id", ROW_HASH, "ingested_at")


@dataclass(frozen=True)
class TableLoad:
    """What a load did to one raw table."""

    new_documents: int = 0
    replaced_documents: int = 0
    unchanged_documents: int = 0
    added_chunks: int = 0
    removed_chunks: int = 0

    def describe(self) -> str:
        return (
            f"{self.added_chunks} chunks added, {self.removed_chunks} removed; documents: "
            f"{self.new_documents} new, {self.replaced_documents} replaced, "
            f"{self.unchanged_documents} unchanged"
        )


@dataclass
class LoadReport:
    tables: dict[str, TableLoad] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)

    @property
    def added_chunks(self) -> dict[str, int]:
        return {table: load.added_chunks for table, load in self.tables.items()}


def load_corpus(paths: Sequence[Path], token_budget: int = 256, progress: bool = True) -> LoadReport:
    """Load every corpus under `paths` into the raw tables (see the module doc); LoadError on bad input."""
    content_limit(token_budget)
    corpus = read_corpora(Path(path) for path in paths)
    settings = StateLocations.from_env()
    with _storage_failures(settings):
        catalog = get_catalog(settings)
        _check_existing_schemas(catalog)  # before the long chunking
    rows = chunk_rows(corpus.documents, token_budget, progress)
    planners = {name: DocumentReplacement(table_rows) for name, table_rows in rows.items()}
    with _storage_failures(settings):
        try:
            tables = ensure_raw_tables(catalog, settings)
        except SchemaDriftError as drift:
            raise LoadError(str(drift)) from drift
        commit_changes(stage_changes(tables, planners), planners)
    return LoadReport({name: planner.result for name, planner in planners.items()}, corpus.warnings)


@contextmanager
def _storage_failures(settings: StateLocations) -> Iterator[None]:
    """A full disk or a read-only warehouse or catalog as a LoadError naming the path."""
    try:
        yield
    except (OSError, OperationalError) as error:
        message = storage_failure(error, settings)
        if message is None:
            raise
        raise LoadError(message) from error


def _check_existing_schemas(catalog: Catalog) -> None:
    existing = [
        (catalog.load_table(f"{RAW_NAMESPACE}.{name}"), schema)
        for name, schema in RAW_TABLE_SCHEMAS.items()
        if catalog.table_exists(f"{RAW_NAMESPACE}.{name}")
    ]
    try:
        check_schemas(existing)
    except SchemaDriftError as drift:
        raise LoadError(str(drift)) from drift


def chunk_rows(
    documents: dict[str, list[Document]], token_budget: int, progress: bool
) -> dict[str, pa.Table]:
    """Rows per raw table; the parsed documents are freed on return, before the commits."""
    rows = {table: TableRows(table, dt.datetime.now(dt.UTC)) for table in RAW_TABLE_SCHEMAS}
    for dataset in list(documents):  # popped: each dataset's text is freed once it is chunked
        _add_chunks(rows, dataset, documents.pop(dataset), token_budget, progress)
    return {table: table_rows.to_arrow() for table, table_rows in rows.items()}


def _add_chunks(
    rows: dict[str, TableRows], dataset: str, documents: list[Document], token_budget: int, progress: bool
) -> None:
    total = sum(len(document.units) for document in documents)
    with tqdm(total=total, desc=f"chunking {dataset}", unit="rec", disable=not progress) as bar:
        for document, chunks in chunk_documents(documents, token_budget):
            table_rows = rows[document.table]
            seen: dict[str, int] = {}  # chunk text -> chunks of this document with that text so far
            for chunk_idx, chunk in enumerate(chunks):
                occurrence = seen.get(chunk.text, 0)
                seen[chunk.text] = occurrence + 1
                table_rows.add(document, chunk_idx, chunk.text, occurrence, document.units[chunk.first_unit])
            bar.update(len(document.units))


def stage_changes(tables: dict[str, Table], planners: dict[str, DocumentReplacement]) -> dict[str, Staged]:
    """Plan every table's change and write its data files; nothing is committed yet. When one table's
    planning fails, the files staged for the others are deleted."""
    staged: dict[str, Staged] = {}
    try:
        for name, planner in planners.items():
            staged[name] = stage(tables[name], planner)
    except BaseException:
        for change in staged.values():
            discard(change)
        raise
    return staged


def commit_changes(staged: dict[str, Staged], planners: dict[str, DocumentReplacement]) -> None:
    """Commit the staged changes one table at a time; on a failure, roll back those committed and
    delete the files of those not tried (`commit_planned` deletes those of the one that failed)."""
    committed: list[Committed] = []
    untried = dict(staged)
    try:
        for name, change in staged.items():
            del untried[name]
            done = commit_planned(change, planners[name])
            if done is not None:
                committed.append(done)
    except BaseException as error:
        for change in untried.values():
            discard(change)
        not_undone = {_table_name(change.table): roll_back(change) for change in committed}
        if not isinstance(error, Exception):
            raise
        reason = (
            str(error)
            if isinstance(error, SchemaDriftError | LoadError)
            else storage_failure(error) or f"{type(error).__name__}: {error}"
        )
        rolled_back = [name for name, why in not_undone.items() if why is None]
        kept = {name: why for name, why in not_undone.items() if why is not None}
        notes = [f"rolled back {', '.join(rolled_back)}"] if rolled_back else []
        notes.extend(
            f"{name} keeps this load's rows, not rolled back: {why}; loading again completes the load"
            for name, why in kept.items()
        )
        raise LoadError(f"{reason} ({'; '.join(notes)})" if notes else reason, kept=list(kept)) from error


def _table_name(table: Table) -> str:
    return ".".join(table.name()[-2:])


class DocumentReplacement:
    """Plans one raw table's change for a load's rows: append new documents, replace changed ones.

    Called again on the table's new state when another writer commits first; `result` describes
    the last plan, the one that was committed.
    """

    def __init__(self, rows: pa.Table) -> None:
        self.rows = rows
        self.result = TableLoad()
        self._documents: dict[DocumentKey, list[int]] = {}
        keys = zip(rows["source_dataset"].to_pylist(), rows["doc_id"].to_pylist(), strict=True)
        for row, key in enumerate(keys):
            self._documents.setdefault(key, []).append(row)
        chunk_ids, hashes = rows["chunk_id"].to_pylist(), rows[ROW_HASH].to_pylist()
        self._versions = {
            key: Counter((chunk_ids[row], hashes[row]) for row in positions)
            for key, positions in self._documents.items()
        }

    def __call__(self, table: Table) -> Transaction | None:
        schema: Schema = RAW_TABLE_SCHEMAS[table.name()[-1]]
        check_schemas([(table, schema)])  # again: another writer may have changed the table
        loaded = self._loaded_versions(table)
        appended_rows: list[int] = []
        replaced: list[DocumentKey] = []
        unchanged = 0
        for key, positions in self._documents.items():
            old = loaded.get(key)
            if old is not None and Counter(version for version, _ in old) == self._versions[key]:
                unchanged += 1
                continue
            if old is not None:
                replaced.append(key)
            appended_rows.extend(positions)
        self.result = TableLoad(
            new_documents=len(self._documents) - unchanged - len(replaced),
            replaced_documents=len(replaced),
            unchanged_documents=unchanged,
            added_chunks=len(appended_rows),
            removed_chunks=sum(len(loaded[key]) for key in replaced),
        )
        if not appended_rows:
            return None
        transaction = table.transaction()
        if replaced:
            transaction.delete(_documents_filter(replaced))
        transaction.append(self._rows_keeping_ingested_at(appended_rows, loaded))
        return transaction

    def _loaded_versions(self, table: Table) -> LoadedRows:
        """Per document of this load's datasets: its rows' (chunk_id, row_hash) and ingested_at."""
        if table.current_snapshot() is None or not self._documents:
            return {}
        datasets = {dataset for dataset, _ in self._documents}
        loaded = table.scan(row_filter=In("source_dataset", datasets), selected_fields=_VERSION_COLUMNS)
        columns = loaded.to_arrow().to_pydict()
        versions: LoadedRows = {}
        for dataset, doc_id, chunk_id, version, ingested_at in zip(
            *(columns[name] for name in _VERSION_COLUMNS), strict=True
        ):
            versions.setdefault((dataset, doc_id), []).append(((chunk_id, version), ingested_at))
        return versions

    def _rows_keeping_ingested_at(self, rows: list[int], loaded: LoadedRows) -> pa.Table:
        """The rows to append; a row already loaded in this very version keeps its first ingested_at."""
        selected = self.rows.take(pa.array(rows, pa.int64()))
        first_ingested = {version: ingested for old in loaded.values() for version, ingested in old}
        versions = zip(selected["chunk_id"].to_pylist(), selected[ROW_HASH].to_pylist(), strict=True)
        ingested = [
            first_ingested.get(version, now)
            for version, now in zip(versions, selected["ingested_at"].to_pylist(), strict=True)
        ]
        column = selected.schema.get_field_index("ingested_at")
        return selected.set_column(
            column, selected.schema.field(column), pa.array(ingested, selected.schema.field(column).type)
        )


def _documents_filter(documents: list[DocumentKey]) -> BooleanExpression:
    """Rows of the given documents: per dataset (a partition column, so files are pruned), its doc ids."""
    doc_ids: dict[str, set[str]] = {}
    for dataset, doc_id in documents:
        doc_ids.setdefault(dataset, set()).add(doc_id)
    return functools.reduce(
        Or, [And(EqualTo("source_dataset", dataset), In("doc_id", ids)) for dataset, ids in doc_ids.items()]
    )
