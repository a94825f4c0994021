"""Loading corpora into the raw Iceberg tables: columns, point-in-time stamps, idempotence, bad input."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from vectorfin import duck
from vectorfin.config.locations import StateLocations
from vectorfin.iceberg import FILING_CHUNKS, RAW_NAMESPACE, TRANSCRIPT_CHUNKS, get_catalog
from vectorfin.loading import LoadError, load_corpus
from vectorfin.loading.chunking import count_tokens

TABLES = (TRANSCRIPT_CHUNKS, FILING_CHUNKS)


def _read(settings: StateLocations, table: str) -> pa.Table:
    return get_catalog(settings).load_table(f"{RAW_NAMESPACE}.{table}").scan().to_arrow()


def _snapshots(settings: StateLocations) -> dict[str, int | None]:
    """Current snapshot per raw table (None: no commit yet); {} before the tables exist."""
    catalog = get_catalog(settings)
    snapshots = {}
    for table in TABLES:
        if catalog.table_exists(f"{RAW_NAMESPACE}.{table}"):
            current = catalog.load_table(f"{RAW_NAMESPACE}.{table}").current_snapshot()
            snapshots[table] = current.snapshot_id if current else None
    return snapshots


def _rows_where(table: pa.Table, **equal: object) -> list[dict[str, object]]:
    mask = None
    for column, value in equal.items():
        condition = pc.equal(table.column(column), value)
        mask = condition if mask is None else pc.and_(mask, condition)
    return table.filter(mask).sort_by("chunk_idx").to_pylist()


def _demo_lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write_lines(path: Path, records: list[dict[str, object]]) -> None:
    path.write_text("".join(json.dumps(record) + "\n" for record in records))


@pytest.fixture
def demo_copy(demo_corpus: Path, tmp_path: Path) -> Path:
    """A writable copy of the demo corpus, for tests that break it."""
    return Path(shutil.copytree(demo_corpus, tmp_path / "corpus", ignore=shutil.ignore_patterns("*.md")))


def test_demo_corpus_fills_both_tables(settings: StateLocations, demo_corpus: Path) -> None:
    report = load_corpus([demo_corpus], token_budget=256, progress=False)

    transcripts, filings = _read(settings, TRANSCRIPT_CHUNKS), _read(settings, FILING_CHUNKS)
    assert report.added_chunks == {TRANSCRIPT_CHUNKS: transcripts.num_rows, FILING_CHUNKS: filings.num_rows}
    assert report.warnings == []
    assert {table: load.new_documents for table, load in report.tables.items()} == {
        TRANSCRIPT_CHUNKS: 12,
        FILING_CHUNKS: 5,
    }
    assert set(transcripts.column("source_dataset").to_pylist()) == {"ectsum", "speaker_turns", "maec"}
    assert set(filings.column("source_dataset").to_pylist()) == {"edgar_10k", "filing_pages"}
    assert all(count_tokens(text) <= 256 for text in transcripts.column("chunk_text").to_pylist())

    turns = transcripts.filter(pc.equal(transcripts.column("source_dataset"), "speaker_turns"))
    turn_keys = set(
        zip(turns.column("doc_id").to_pylist(), turns.column("turn_idx").to_pylist(), strict=True)
    )
    assert len(turn_keys) == 68  # every turn starts at least one chunk, the empty one included
    assert "" in turns.column("chunk_text").to_pylist()
    bullets = pc.equal(transcripts.column("section"), "summary_bullet")
    assert pc.sum(bullets).as_py() == 12

    items = filings.filter(pc.equal(filings.column("source_dataset"), "edgar_10k"))
    item_keys = set(zip(items.column("doc_id").to_pylist(), items.column("item").to_pylist(), strict=True))
    assert len(item_keys) == 11  # the NRTH 10-K's empty item_9C is an absent Item
    pages = filings.filter(pc.equal(filings.column("source_dataset"), "filing_pages"))
    assert (
        len(set(zip(pages.column("doc_id").to_pylist(), pages.column("page").to_pylist(), strict=True))) == 7
    )


def test_demo_rows_carry_periods_roles_and_knowledge_times(
    settings: StateLocations, demo_corpus: Path
) -> None:
    load_corpus([demo_corpus], token_budget=256, progress=False)
    transcripts, filings = _read(settings, TRANSCRIPT_CHUNKS), _read(settings, FILING_CHUNKS)

    call = _rows_where(transcripts, source_dataset="speaker_turns", doc_id="NRTH_q3_2022")
    assert [(row["speaker"], row["speaker_role"], row["section"]) for row in call[:1] + call[5:7]] == [
        ("Operator", "operator", "prepared_remarks"),
        ("Jordan Feld", "analyst", "q_and_a"),
        ("Dana Whitcomb", "executive", "q_and_a"),
    ]
    assert {(row["ticker"], row["fiscal_period"], row["knowledge_ts"]) for row in call} == {
        ("NRTH", "2022Q3", dt.datetime(2022, 12, 30))  # quarter end + 1 day + 90 days
    }
    maec = _rows_where(transcripts, doc_id="20230420_MRDN")
    assert {(row["fiscal_period"], row["knowledge_ts"]) for row in maec} == {
        ("2023Q1", dt.datetime(2023, 4, 21))
    }
    assert [row["speaker"] for row in maec][:2] == ["Person0", "Person1"]

    tenk = _rows_where(filings, doc_id="1893301_10K_2023-02-24")
    assert {(row["ticker"], row["fiscal_period"], row["form_type"], row["knowledge_ts"]) for row in tenk} == {
        ("NRTH", "FY2022", "10-K", dt.datetime(2023, 2, 25))
    }
    assert [row["item"] for row in tenk][:2] == ["item_1", "item_1A"]
    eight_k = _rows_where(filings, doc_id="CALD_2024_8K_dated-2024-03-12")
    assert {(row["form_type"], row["fiscal_period"], row["knowledge_ts"]) for row in eight_k} == {
        ("8-K", "FY2024", dt.datetime(2024, 3, 13))
    }
    ten_q = _rows_where(filings, doc_id="BLUO_2023Q3_10Q")
    assert [row["page"] for row in ten_q] == [0, 1, 2, 3]
    assert {(row["fiscal_period"], row["knowledge_ts"]) for row in ten_q} == {
        ("2023Q3", dt.datetime(2023, 12, 30))
    }


def test_loading_twice_adds_nothing(settings: StateLocations, demo_corpus: Path) -> None:
    first = load_corpus([demo_corpus], progress=False)
    snapshots = _snapshots(settings)

    again = load_corpus([demo_corpus], progress=False)

    assert again.added_chunks == {TRANSCRIPT_CHUNKS: 0, FILING_CHUNKS: 0}
    assert {table: load.unchanged_documents for table, load in again.tables.items()} == {
        table: load.new_documents for table, load in first.tables.items()
    }
    assert _snapshots(settings) == snapshots
    assert {table: _read(settings, table).num_rows for table in TABLES} == first.added_chunks


def test_iceberg_scan_reads_loaded_chunks(settings: StateLocations, demo_corpus: Path) -> None:
    load_corpus([demo_corpus], progress=False)
    location = settings.table_location(RAW_NAMESPACE, TRANSCRIPT_CHUNKS)

    with duck.connect() as connection:
        rows = connection.sql(
            "SELECT ticker, fiscal_period, chunk_idx, chunk_text "
            f"FROM iceberg_scan('{location}') WHERE knowledge_ts >= '2020-01-01' "
            "ORDER BY ticker, fiscal_period, chunk_idx"
        ).fetchall()

    assert {(ticker, period) for ticker, period, _, _ in rows} >= {("NRTH", "2022Q3"), ("CALD", "2024Q2")}


def _drop_field(corpus: Path) -> tuple[Path, str]:
    turns = corpus / "transcripts/speaker_turns/turns.jsonl"
    records = _demo_lines(turns)
    del records[3]["speech"]
    _write_lines(turns, records)
    return turns, "line 4 (call_id='NRTH_q3_2022', turn_idx=3): field 'speech' is missing"


def _wrong_year(corpus: Path) -> tuple[Path, str]:
    calls = corpus / "transcripts/speaker_turns/calls.jsonl"
    records = _demo_lines(calls)
    records[1]["fiscal_year"] = "abc"
    _write_lines(calls, records)
    return calls, "line 2 (call_id='NRTH_q4_2022'): field 'fiscal_year' must be an integer, got 'abc'"


def _bad_call_date(corpus: Path) -> tuple[Path, str]:
    calls = corpus / "transcripts/maec/calls.jsonl"
    records = _demo_lines(calls)
    records[0]["call_date"] = "April 20th"
    _write_lines(calls, records)
    return calls, "line 1 (call_id='20230420_MRDN'): field 'call_date' must be a date"


def _corrupt_parquet(corpus: Path) -> tuple[Path, str]:
    (corpus / "filings/filing_pages/pages.jsonl").unlink()
    pages = corpus / "filings/filing_pages/pages.parquet"
    pages.write_bytes(b"PAR1 this is not a parquet file")
    return pages, "not a readable Parquet file"


def _broken_json(corpus: Path) -> tuple[Path, str]:
    filings = corpus / "filings/edgar_10k/filings_10k.jsonl"
    filings.write_text(filings.read_text() + '{"cik": "1", "company": \n')
    return filings, "line 3: invalid JSON"


def _repeated_key(corpus: Path) -> tuple[Path, str]:
    filings = corpus / "filings/edgar_10k/filings_10k.jsonl"
    first, *rest = filings.read_text().splitlines()
    # the same key twice in one object: json.loads would keep the second value silently
    filings.write_text("\n".join([first[:-1] + ', "cik": "0000000001"}', *rest]) + "\n")
    return filings, "line 1: key 'cik' appears twice in one object"


def _huge_turn_idx(corpus: Path) -> tuple[Path, str]:
    turns = corpus / "transcripts/speaker_turns/turns.jsonl"
    records = _demo_lines(turns)
    records[3]["turn_idx"] = 99999999999
    _write_lines(turns, records)
    return (
        turns,
        "line 4 (call_id='NRTH_q3_2022', turn_idx=99999999999): field 'turn_idx' must be at most 2147483647",
    )


def _far_future_date(corpus: Path) -> tuple[Path, str]:
    calls = corpus / "transcripts/maec/calls.jsonl"
    records = _demo_lines(calls)
    records[1]["call_date"] = "9999-12-31"
    _write_lines(calls, records)
    return calls, "line 2 (call_id='20240208_CALD'): field 'call_date' must lie in 1900-01-01..2100-12-31"


def _control_character_in_a_speaker(corpus: Path) -> tuple[Path, str]:
    turns = corpus / "transcripts/speaker_turns/turns.jsonl"
    records = _demo_lines(turns)
    records[2]["speaker"] = "Dana\u0007Whitcomb"
    _write_lines(turns, records)
    return (
        turns,
        "line 3 (call_id='NRTH_q3_2022', turn_idx=2): field 'speaker' holds the control character '\\x07'",
    )


def _empty_file(corpus: Path) -> tuple[Path, str]:
    turns = corpus / "transcripts/speaker_turns/turns.jsonl"
    turns.write_text("\n")
    return turns, "the file holds no records"


def _conflicting_turns(corpus: Path) -> tuple[Path, str]:
    turns = corpus / "transcripts/speaker_turns/turns.jsonl"
    records = _demo_lines(turns)
    _write_lines(turns, [*records, {**records[3], "speech": "Another text for the same turn."}])
    return (
        turns,
        "line 69 (call_id='NRTH_q3_2022', turn_idx=3): same call_id and turn_idx as line 4, with different",
    )


def _conflicting_pages(corpus: Path) -> tuple[Path, str]:
    pages = corpus / "filings/filing_pages/pages.jsonl"
    records = _demo_lines(pages)
    _write_lines(
        pages, [*records, {**records[1], "page_id": "BLUO_2023Q3_10Q#p1-rescan", "text": "Rescanned."}]
    )
    return (
        pages,
        "line 8 (page_id='BLUO_2023Q3_10Q#p1-rescan'): same doc_name and page_num as line 2, with different",
    )


@pytest.mark.parametrize(
    "corrupt",
    [
        _drop_field,
        _wrong_year,
        _bad_call_date,
        _corrupt_parquet,
        _broken_json,
        _repeated_key,
        _huge_turn_idx,
        _far_future_date,
        _control_character_in_a_speaker,
        _empty_file,
        _conflicting_turns,
        _conflicting_pages,
    ],
)
def test_malformed_input_names_file_and_record_and_commits_nothing(
    settings: StateLocations, demo_copy: Path, corrupt: object
) -> None:
    bad_file, expected = corrupt(demo_copy)

    with pytest.raises(LoadError) as raised:
        load_corpus([demo_copy], progress=False)

    assert str(raised.value).startswith(str(bad_file))
    assert expected in str(raised.value)
    assert _snapshots(settings) == {}


def test_a_bad_filing_leaves_loaded_transcripts_unchanged(
    settings: StateLocations, demo_corpus: Path, demo_copy: Path
) -> None:
    load_corpus([demo_corpus], progress=False)
    snapshots = _snapshots(settings)
    turns = demo_copy / "transcripts/speaker_turns/turns.jsonl"
    _write_lines(turns, [*_demo_lines(turns), {**_demo_lines(turns)[-1], "turn_idx": 99, "speech": "New."}])
    pages = demo_copy / "filings/filing_pages/pages.jsonl"
    _write_lines(pages, [*_demo_lines(pages), {**_demo_lines(pages)[0], "page_id": "X#p9", "page_num": -1}])

    with pytest.raises(LoadError, match=r"line 8 \(page_id='X#p9'\): field 'page_num' must be at least 0"):
        load_corpus([demo_copy], progress=False)

    assert _snapshots(settings) == snapshots


def test_an_identical_repeated_record_is_skipped_with_a_warning(
    settings: StateLocations, demo_corpus: Path, demo_copy: Path
) -> None:
    turns = demo_copy / "transcripts/speaker_turns/turns.jsonl"
    _write_lines(turns, [*_demo_lines(turns), _demo_lines(turns)[3]])

    report = load_corpus([demo_copy], progress=False)

    assert report.warnings == [
        f"{turns}: skipped 1 record(s) repeating an earlier one with the same call_id and turn_idx "
        "and content (line 69 = line 4)"
    ]
    transcripts = _read(settings, TRANSCRIPT_CHUNKS)
    assert transcripts.num_rows == len(set(transcripts["chunk_id"].to_pylist())) == 98


def test_a_call_without_turns_is_reported_and_keeps_its_loaded_rows(
    settings: StateLocations, demo_corpus: Path, demo_copy: Path
) -> None:
    load_corpus([demo_corpus], progress=False)
    loaded = _rows_where(_read(settings, TRANSCRIPT_CHUNKS), doc_id="NRTH_q4_2022")
    turns = demo_copy / "transcripts/speaker_turns/turns.jsonl"
    _write_lines(turns, [record for record in _demo_lines(turns) if record["call_id"] != "NRTH_q4_2022"])

    report = load_corpus([demo_copy], progress=False)

    assert report.warnings == [
        "speaker_turns: 1 of 7 documents have no text and load no chunks "
        "(already loaded versions are kept): NRTH_q4_2022"
    ]
    assert _rows_where(_read(settings, TRANSCRIPT_CHUNKS), doc_id="NRTH_q4_2022") == loaded


def test_a_folder_without_any_corpus_is_an_error(settings: StateLocations, tmp_path: Path) -> None:
    (tmp_path / "evals").mkdir()

    with pytest.raises(LoadError, match="no corpus found"):
        load_corpus([tmp_path], progress=False)


def _sample_shared_data(source: Path, target: Path, calls: int = 2) -> None:
    """The first few calls, filings and pages of each real file, in the same layout and formats."""

    def write(relative: str, table: pa.Table) -> None:
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, target / relative)

    def first_calls(folder: str, detail: str) -> None:
        call_table = pq.read_table(source / folder / "calls.parquet").slice(0, calls)
        details = pq.read_table(
            source / folder / detail, filters=[("call_id", "in", call_table["call_id"].to_pylist())]
        )
        write(f"{folder}/calls.parquet", call_table)
        write(f"{folder}/{detail}", details)

    write(
        "transcripts/ectsum/calls.parquet",
        pq.read_table(source / "transcripts/ectsum/calls.parquet").slice(0, calls),
    )
    first_calls("transcripts/speaker_turns", "turns.parquet")
    first_calls("transcripts/maec", "sentences.parquet")
    edgar = "filings/edgar_10k/filings_10k.jsonl"
    (target / edgar).parent.mkdir(parents=True)
    with (source / edgar).open() as lines:
        (target / edgar).write_text("".join(next(lines) for _ in range(calls)))
    pages = pq.read_table(source / "filings/filing_pages/pages.parquet")
    dated = pc.match_substring(pages["doc_name"], "dated-")
    write(
        "filings/filing_pages/pages.parquet",
        pa.concat_tables([pages.slice(0, 5), pages.filter(dated).slice(0, 5)]),
    )


@pytest.mark.shared_data
def test_a_sample_of_each_real_format_loads(
    settings: StateLocations, shared_data: Path, tmp_path: Path
) -> None:
    _sample_shared_data(shared_data, tmp_path / "sample")

    load_corpus([tmp_path / "sample"], progress=False)

    for table, datasets in {
        TRANSCRIPT_CHUNKS: {"ectsum": 2, "speaker_turns": 2, "maec": 2},
        FILING_CHUNKS: {"edgar_10k": 2, "filing_pages": 2},
    }.items():
        rows = _read(settings, table)
        documents = rows.group_by("source_dataset").aggregate([("doc_id", "count_distinct")]).to_pylist()
        assert {row["source_dataset"]: row["doc_id_count_distinct"] for row in documents} == datasets
        assert rows["knowledge_ts"].null_count == 0
        assert max(count_tokens(text) for text in rows["chunk_text"].to_pylist()) <= 256
