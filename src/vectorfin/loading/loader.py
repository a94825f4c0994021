"""`load_corpus`: read and validate every file, chunk, then append once per raw table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import pyarrow as pa
from tqdm import tqdm

from vectorfin.config import Settings
from vectorfin.iceberg import RAW_TABLE_SCHEMAS, append_new_rows, ensure_raw_tables, get_catalog
from vectorfin.loading.chunking import chunk_documents, content_limit
from vectorfin.loading.readers import read_corpora
from vectorfin.loading.records import Document, TableRows


def load_corpus(paths: Sequence[Path], token_budget: int = 256, progress: bool = True) -> dict[str, int]:
    """Load every corpus under `paths` into the raw tables; return new chunks per table.

    All files are read and validated before anything is written, and each table gets a single
    append of the chunks it does not hold yet, so a failed load commits nothing and loading the
    same corpus twice adds nothing. (The two tables' appends are separate Iceberg commits.)
    """
    content_limit(token_budget)
    new_rows = _chunk_rows(paths, token_budget, progress)
    settings = Settings.from_env()
    tables = ensure_raw_tables(get_catalog(settings), settings)
    return {table: append_new_rows(tables[table], rows, key="chunk_id") for table, rows in new_rows.items()}


def _chunk_rows(paths: Sequence[Path], token_budget: int, progress: bool) -> dict[str, pa.Table]:
    """Rows per raw table; the parsed documents are freed on return, before the appends."""
    documents = read_corpora(Path(path) for path in paths)
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
            for chunk_idx, chunk in enumerate(chunks):
                table_rows.add(document, chunk_idx, chunk.text, document.units[chunk.first_unit])
            bar.update(len(document.units))
