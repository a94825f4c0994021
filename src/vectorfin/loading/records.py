"""Parsed documents and the raw-table rows their chunks become.

A `Document` is one call or filing; its `Unit`s are the pieces the source gives (a speaker turn,
a sentence, a summary bullet, a 10-K item, a page), in document order. Chunking may merge
adjacent units of one `group` (consecutive sentences of one speaker) and splits units that
exceed the token budget; each chunk takes its table columns from the unit it starts in.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass, field

import pyarrow as pa

from vectorfin.iceberg import (
    FILING_CHUNKS,
    NON_CONTENT_COLUMNS,
    RAW_TABLE_SCHEMAS,
    ROW_HASH,
    TRANSCRIPT_CHUNKS,
)

TRANSCRIPT_DATASETS = ("ectsum", "speaker_turns", "maec")


@dataclass(slots=True)
class Unit:
    text: str
    group: int  # adjacent units with the same group may share a chunk
    section: str | None = None
    speaker: str | None = None
    speaker_role: str | None = None
    turn_idx: int | None = None
    item: str | None = None
    page: int | None = None


@dataclass
class Document:
    source_dataset: str
    doc_id: str
    ticker: str | None
    company: str | None
    fiscal_period: str | None
    knowledge_ts: dt.datetime
    form_type: str | None = None
    units: list[Unit] = field(default_factory=list)

    @property
    def table(self) -> str:
        return TRANSCRIPT_CHUNKS if self.source_dataset in TRANSCRIPT_DATASETS else FILING_CHUNKS


def chunk_id(source_dataset: str, doc_id: str, chunk_text: str, occurrence: int) -> str:
    """The chunk's identity: its document and its own text (the `occurrence`-th chunk of the document
    with that text, from 0), not its position, so inserting a turn re-keys no other chunk."""
    key = f"{source_dataset}|{doc_id}|{occurrence}|{chunk_text}"
    return hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]


def row_hash(values: Iterable[object]) -> str:
    """Version of a row: a hash of its content columns, so a corrected date or ticker is a new version."""
    encoded = json.dumps(list(values), default=_isoformat, ensure_ascii=False)
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()[:32]


def _isoformat(value: object) -> str:
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"no version encoding for {type(value).__name__}")


_DOCUMENT_COLUMNS = ("doc_id", "source_dataset", "ticker", "company", "fiscal_period", "knowledge_ts")
_UNIT_COLUMNS = {
    TRANSCRIPT_CHUNKS: ("section", "speaker", "speaker_role", "turn_idx"),
    FILING_CHUNKS: ("item", "page"),
}


class TableRows:
    """Column-wise rows for one raw table, built chunk by chunk."""

    def __init__(self, table: str, ingested_at: dt.datetime) -> None:
        self.table = table
        self.schema = RAW_TABLE_SCHEMAS[table].as_arrow()
        self.ingested_at = ingested_at
        self.columns: dict[str, list[object]] = {name: [] for name in self.schema.names}
        self.content_columns = [name for name in self.schema.names if name not in NON_CONTENT_COLUMNS]

    def add(self, document: Document, chunk_idx: int, text: str, occurrence: int, unit: Unit) -> None:
        columns = self.columns
        columns["chunk_id"].append(chunk_id(document.source_dataset, document.doc_id, text, occurrence))
        for name in _DOCUMENT_COLUMNS:
            columns[name].append(getattr(document, name))
        columns["chunk_idx"].append(chunk_idx)
        columns["chunk_text"].append(text)
        columns["ingested_at"].append(self.ingested_at)
        if self.table == FILING_CHUNKS:
            columns["form_type"].append(document.form_type)
        for name in _UNIT_COLUMNS[self.table]:
            columns[name].append(getattr(unit, name))
        columns[ROW_HASH].append(row_hash(columns[name][-1] for name in self.content_columns))

    def to_arrow(self) -> pa.Table:
        return pa.Table.from_pydict(self.columns, schema=self.schema)
