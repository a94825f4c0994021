"""Chunk identity and row versions: corrected records replace the old version, insertions re-key nothing."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from pyiceberg.schema import Schema

from vectorfin.config.locations import StateLocations
from vectorfin.iceberg import (
    FILING_CHUNKS,
    RAW_NAMESPACE,
    RAW_TABLE_SCHEMAS,
    ROW_HASH,
    TRANSCRIPT_CHUNKS,
    get_catalog,
    raw_partition_spec,
)
from vectorfin.loading import load_corpus

TURNS = "transcripts/speaker_turns/turns.jsonl"
MAEC_CALLS = "transcripts/maec/calls.jsonl"
EDGAR = "filings/edgar_10k/filings_10k.jsonl"


def _table(settings: StateLocations, name: str, snapshot_id: int | None = None) -> pa.Table:
    table = get_catalog(settings).load_table(f"{RAW_NAMESPACE}.{name}")
    return table.scan(snapshot_id=snapshot_id).to_arrow()


def _snapshot_id(settings: StateLocations, name: str) -> int:
    return get_catalog(settings).load_table(f"{RAW_NAMESPACE}.{name}").current_snapshot().snapshot_id


def _document(rows: pa.Table, doc_id: str) -> list[dict[str, object]]:
    return rows.filter(pc.equal(rows["doc_id"], doc_id)).sort_by("chunk_idx").to_pylist()


def _rewrite(path: Path, change: object) -> None:
    records = [json.loads(line) for line in path.read_text().splitlines()]
    records = change(records)
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


@pytest.fixture
def corpus(demo_corpus: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(demo_corpus, tmp_path / "corpus", ignore=shutil.ignore_patterns("*.md")))


def _corrected_call_date(records: list[dict[str, object]]) -> list[dict[str, object]]:
    records[0]["call_date"] = "2023-04-21"  # 20230420_MRDN, published a day later than recorded
    return records


def _corrected_filing_ticker(records: list[dict[str, object]]) -> list[dict[str, object]]:
    records[0]["ticker"] = "NRTHF"
    return records


@pytest.mark.parametrize(
    ("path", "correct", "table", "doc_id", "column", "corrected"),
    [
        (
            MAEC_CALLS,
            _corrected_call_date,
            TRANSCRIPT_CHUNKS,
            "20230420_MRDN",
            "knowledge_ts",
            dt.datetime(2023, 4, 22),
        ),
        (EDGAR, _corrected_filing_ticker, FILING_CHUNKS, "1893301_10K_2023-02-24", "ticker", "NRTHF"),
    ],
)
def test_corrected_metadata_replaces_the_documents_rows(
    settings: StateLocations,
    corpus: Path,
    path: str,
    correct: object,
    table: str,
    doc_id: str,
    column: str,
    corrected: object,
) -> None:
    load_corpus([corpus], progress=False)
    before = _table(settings, table)
    old_snapshot = _snapshot_id(settings, table)
    old_rows = _document(before, doc_id)
    _rewrite(corpus / path, correct)

    report = load_corpus([corpus], progress=False)

    after = _table(settings, table)
    new_rows = _document(after, doc_id)
    assert report.tables[table].replaced_documents == 1
    assert report.tables[table].added_chunks == report.tables[table].removed_chunks == len(old_rows)
    assert {row[column] for row in new_rows} == {corrected}
    assert [row["chunk_id"] for row in new_rows] == [row["chunk_id"] for row in old_rows]
    assert after.num_rows == before.num_rows == len(set(after["chunk_id"].to_pylist()))
    old_version = _document(_table(settings, table, snapshot_id=old_snapshot), doc_id)
    assert {row[column] for row in old_version} == {old_rows[0][column]}  # time travel keeps it


def _insert_turn(records: list[dict[str, object]]) -> list[dict[str, object]]:
    """A turn the first transcript missed, inserted after turn 2 of NRTH_q3_2022; later turns renumbered."""
    call = [record for record in records if record["call_id"] == "NRTH_q3_2022"]
    rest = [record for record in records if record["call_id"] != "NRTH_q3_2022"]
    inserted = {**call[2], "speaker": "Marcus Ellery", "speech": "Let me add one number: fuel costs fell 4%."}
    call = [*call[:3], inserted, *call[3:]]
    for turn_idx, record in enumerate(call):
        record["turn_idx"] = turn_idx
    return call + rest


def test_an_inserted_turn_adds_one_chunk_and_rekeys_no_other(settings: StateLocations, corpus: Path) -> None:
    load_corpus([corpus], progress=False)
    before = _document(_table(settings, TRANSCRIPT_CHUNKS), "NRTH_q3_2022")
    _rewrite(corpus / TURNS, _insert_turn)

    report = load_corpus([corpus], progress=False)

    transcripts = _table(settings, TRANSCRIPT_CHUNKS)
    after = _document(transcripts, "NRTH_q3_2022")
    assert report.tables[TRANSCRIPT_CHUNKS].replaced_documents == 1
    assert report.tables[TRANSCRIPT_CHUNKS].unchanged_documents == 11
    assert len(after) == len(before) + 1
    assert {row["chunk_id"] for row in before} < {row["chunk_id"] for row in after}
    texts = [row["chunk_text"] for row in after]
    assert texts[3] == "Let me add one number: fuel costs fell 4%."
    assert texts[:3] + texts[4:] == [row["chunk_text"] for row in before]
    assert transcripts.num_rows == len(set(transcripts["chunk_id"].to_pylist()))
    # Chunks before the insertion are the same rows, loaded when they first were.
    assert [row["ingested_at"] for row in after[:3]] == [row["ingested_at"] for row in before[:3]]
    assert after[4]["ingested_at"] > before[3]["ingested_at"]  # re-positioned: a new version


def test_repeated_texts_in_one_document_get_their_own_ids(settings: StateLocations, corpus: Path) -> None:
    def repeat_a_turn(records: list[dict[str, object]]) -> list[dict[str, object]]:
        records[1]["speech"] = records[0]["speech"]
        return records

    _rewrite(corpus / TURNS, repeat_a_turn)

    load_corpus([corpus], progress=False)

    first_two = _document(_table(settings, TRANSCRIPT_CHUNKS), "NRTH_q3_2022")[:2]
    assert first_two[0]["chunk_text"] == first_two[1]["chunk_text"]
    assert first_two[0]["chunk_id"] != first_two[1]["chunk_id"]


def test_documents_a_later_load_does_not_hold_are_kept(
    settings: StateLocations, corpus: Path, tmp_path: Path
) -> None:
    load_corpus([corpus], progress=False)
    rows = {table: _table(settings, table).num_rows for table in (TRANSCRIPT_CHUNKS, FILING_CHUNKS)}
    only_maec = tmp_path / "only_maec"
    shutil.copytree(corpus / "transcripts/maec", only_maec / "transcripts/maec")
    _rewrite(only_maec / MAEC_CALLS, _corrected_call_date)

    report = load_corpus([only_maec], progress=False)

    assert report.tables[TRANSCRIPT_CHUNKS].replaced_documents == 1
    assert report.tables[TRANSCRIPT_CHUNKS].unchanged_documents == 1  # the other MAEC call
    assert {table: _table(settings, table).num_rows for table in rows} == rows


def test_tables_from_before_row_versions_are_upgraded_and_reloaded_once(
    settings: StateLocations, demo_corpus: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Raw tables written before row_hash existed (and with position-based chunk ids) gain the column;
    the next load replaces each document once, leaving no old-style row behind."""
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", str(tmp_path / "elsewhere"))
    load_corpus([demo_corpus], progress=False)
    old_rows = {
        name: _table(StateLocations.from_env(), name).drop_columns([ROW_HASH]) for name in RAW_TABLE_SCHEMAS
    }
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", settings.warehouse)
    catalog = get_catalog(settings)
    catalog.create_namespace(RAW_NAMESPACE)
    for name, schema in RAW_TABLE_SCHEMAS.items():
        old_schema = Schema(*(field for field in schema.fields if field.name != ROW_HASH))
        table = catalog.create_table(
            f"{RAW_NAMESPACE}.{name}",
            schema=old_schema,
            location=f"file://{settings.table_location(RAW_NAMESPACE, name)}",
            partition_spec=raw_partition_spec(old_schema),
        )
        rows = old_rows[name]
        column = rows.schema.get_field_index("chunk_id")
        old_ids = pa.array([f"old-{index}" for index in range(rows.num_rows)], rows.schema.field(column).type)
        table.append(rows.set_column(column, rows.schema.field(column), old_ids))

    report = load_corpus([demo_corpus], progress=False)

    for name, load in report.tables.items():
        rows = _table(settings, name)
        assert load.replaced_documents > 0
        assert load.new_documents == load.unchanged_documents == 0
        assert rows.num_rows == old_rows[name].num_rows == len(set(rows["chunk_id"].to_pylist()))
        assert rows[ROW_HASH].null_count == 0
        assert not any(chunk_id.startswith("old-") for chunk_id in rows["chunk_id"].to_pylist())


def test_a_document_another_writer_duplicated_a_row_of_is_repaired(
    settings: StateLocations, corpus: Path
) -> None:
    load_corpus([corpus], progress=False)
    table = get_catalog(settings).load_table(f"{RAW_NAMESPACE}.{TRANSCRIPT_CHUNKS}")
    copy = table.scan(row_filter="doc_id = '20230420_MRDN' and chunk_idx = 0").to_arrow()
    column = copy.schema.field(ROW_HASH)  # the copy comes without a row version
    table.append(copy.set_column(copy.schema.get_field_index(ROW_HASH), column, pa.nulls(1, column.type)))

    report = load_corpus([corpus], progress=False)

    load = report.tables[TRANSCRIPT_CHUNKS]
    assert (load.replaced_documents, load.removed_chunks) == (1, load.added_chunks + 1)
    rows = _table(settings, TRANSCRIPT_CHUNKS)
    assert rows.num_rows == len(set(rows["chunk_id"].to_pylist())) == 98
