"""Readers for the corpus layout of `../shared/data`: each sub-dataset's files into `Document`s.

A corpus root holds any of the folders in `DATASETS`; each file may be `.parquet` or `.jsonl`
(one JSON object per line, same field names). Other folders (`evals/`, `general/`) are not
corpora and are never looked at. Every record is validated here, before anything is chunked.

Records are keyed (a call by call_id, a turn by call_id and turn_idx, a page by page_id and by
doc_name and page_num): a repeat with the same content is skipped and reported, a repeat with
other content stops the load. Whatever cannot be loaded is reported, never silently dropped.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Hashable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from vectorfin.loading import timing
from vectorfin.loading.records import Document, Unit
from vectorfin.loading.validation import (
    EARLIEST_DATE,
    LATEST_DATE,
    KeyedRecords,
    LoadError,
    Record,
    SourceFile,
    find_source_file,
    read_source_file,
)

TRANSCRIPT_SECTIONS = frozenset({"prepared_remarks", "q_and_a"})
UNKNOWN = "unknown"
_EXAMPLES = 3  # ids a warning names before it only counts


@dataclass(frozen=True)
class Dataset:
    name: str  # the source_dataset value
    folder: str  # relative to a corpus root
    read: Callable[[Path, list[str]], list[Document]]  # (folder, warnings to append to)


@dataclass
class Corpus:
    """Documents per source dataset, and the warnings reading them raised."""

    documents: dict[str, list[Document]] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def read_corpora(roots: Iterable[Path]) -> Corpus:
    """Documents per source dataset found under the roots; raises LoadError on any bad input.

    A document in two roots is an error; a document without any text unit (a call whose turns
    file has none of its turns) is left out with a warning, so it replaces nothing already loaded.
    """
    corpus = Corpus()
    found_in: dict[tuple[str, str], Path] = {}
    for root in roots:
        if not root.is_dir():
            raise LoadError(f"{root}: not a folder")
        present = [dataset for dataset in DATASETS if (root / dataset.folder).is_dir()]
        if not present:
            expected = ", ".join(dataset.folder for dataset in DATASETS)
            raise LoadError(f"{root}: no corpus found (expected any of {expected})")
        for dataset in present:
            documents = dataset.read(root / dataset.folder, corpus.warnings)
            for document in documents:
                first_root = found_in.setdefault((dataset.name, document.doc_id), root)
                if first_root != root:
                    raise LoadError(
                        f"{dataset.name} document {document.doc_id!r} is in both {first_root} and {root}"
                    )
            loadable = _with_units(dataset, documents, corpus.warnings)
            corpus.documents.setdefault(dataset.name, []).extend(loadable)
    return corpus


def _with_units(dataset: Dataset, documents: list[Document], warnings: list[str]) -> list[Document]:
    empty = [document.doc_id for document in documents if not document.units]
    if empty:
        warnings.append(
            f"{dataset.name}: {len(empty)} of {len(documents)} documents have no text and load no chunks "
            f"(already loaded versions are kept): {', '.join(empty[:_EXAMPLES])}"
            + (", ..." if len(empty) > _EXAMPLES else "")
        )
    return [document for document in documents if document.units]


def _required_file(folder: Path, stem: str) -> SourceFile:
    path = find_source_file(folder, stem)
    if path is None:
        raise LoadError(f"{folder}: {stem}.parquet or {stem}.jsonl is missing")
    return read_source_file(path)


def _unique_records(
    source: SourceFile, key_names: str, key: Callable[[Record], Hashable], warnings: list[str]
) -> Iterator[tuple[Record, Hashable]]:
    """Each record with its key, the first of each key only (see `KeyedRecords`)."""
    keyed = KeyedRecords(source, key_names)
    for record in source:
        record_key = key(record)
        if keyed.is_first(record, record_key):
            yield record, record_key
    note = keyed.warning()
    if note:
        warnings.append(note)


def _call_id(record: Record) -> str:
    return record.identifier("call_id")


def _renumber_groups(units: list[Unit]) -> None:
    """Give each unit its own group: turns, items and pages are never merged with each other."""
    for position, unit in enumerate(units):
        unit.group = position


# Transcripts --------------------------------------------------------------------------------------


def _quarter(record: Record) -> tuple[int, int]:
    return record.integer("fiscal_year", 1900, 2100), record.integer("fiscal_quarter", 1, 4)


def _fiscal_call(record: Record, source_dataset: str, call_id: str) -> Document:
    year, quarter = _quarter(record)
    return Document(
        source_dataset=source_dataset,
        doc_id=call_id,
        ticker=record.identifier("ticker"),
        company=record.optional_label("company"),
        fiscal_period=timing.quarter_label(year, quarter),
        knowledge_ts=timing.quarter_known_from(year, quarter),
    )


def read_ectsum(folder: Path, warnings: list[str]) -> list[Document]:
    """ECTSum calls: sentences (no speakers) merged up to the budget, then one chunk per summary bullet."""
    documents: list[Document] = []
    for record, call_id in _unique_records(_required_file(folder, "calls"), "call_id", _call_id, warnings):
        document = _fiscal_call(record, "ectsum", call_id)
        sentences = record.text_list("transcript_sentences")
        bullets = record.text_list("summary_bullets")
        document.units = [
            Unit(text, group=0, section=UNKNOWN, speaker_role=UNKNOWN, turn_idx=index)
            for index, text in enumerate(sentences)
        ] + [
            Unit(text, group=1 + index, section="summary_bullet", speaker_role=UNKNOWN, turn_idx=index)
            for index, text in enumerate(bullets)
        ]
        documents.append(document)
    return documents


def participant_roles(participants: Iterable[str]) -> dict[str, str]:
    """Speaker name -> role from "Name--Title" entries; analysts' titles end in "Analyst"."""
    roles = {}
    for entry in participants:
        name, separator, title = entry.partition("--")
        if separator:
            roles[name.strip()] = "analyst" if title.strip().lower().endswith("analyst") else "executive"
    return roles


def speaker_role(speaker: str | None, roles: dict[str, str]) -> str:
    if speaker is None:
        return UNKNOWN
    speaker = speaker.strip()
    if speaker.lower() == "operator":
        return "operator"
    return roles.get(speaker, UNKNOWN)


def read_speaker_turns(folder: Path, warnings: list[str]) -> list[Document]:
    """Calls as speaker turns; a turn is one unit, kept whole when it fits the budget."""
    calls: dict[str, tuple[Document, dict[str, str]]] = {}
    for record, call_id in _unique_records(_required_file(folder, "calls"), "call_id", _call_id, warnings):
        calls[call_id] = (
            _fiscal_call(record, "speaker_turns", call_id),
            participant_roles(record.label_list("participants")),
        )
    positioned: dict[str, list[tuple[int, Unit]]] = {call_id: [] for call_id in calls}
    turns = _unique_records(
        _required_file(folder, "turns"),
        "call_id and turn_idx",
        lambda record: (_call_id(record), record.integer("turn_idx", minimum=0)),
        warnings,
    )
    for record, (call_id, turn_idx) in turns:
        _known_call(record, call_id, calls, "calls")
        speaker = record.optional_label("speaker")
        unit = Unit(
            record.text("speech"),
            group=0,
            section=_section(record),
            speaker=speaker,
            speaker_role=speaker_role(speaker, calls[call_id][1]),
            turn_idx=turn_idx,
        )
        positioned[call_id].append((turn_idx, unit))
    return [
        _ordered(document, positioned[call_id], merge_runs=False)
        for call_id, (document, _roles) in calls.items()
    ]


def _known_call(record: Record, call_id: str, calls: dict[str, object], calls_stem: str) -> None:
    if call_id not in calls:
        raise record.error(f"call_id {call_id!r} is not in the {calls_stem} file")


def _section(record: Record) -> str:
    section = record.optional_label("section")
    if section is None:
        return UNKNOWN
    if section not in TRANSCRIPT_SECTIONS:
        expected = " or ".join(sorted(TRANSCRIPT_SECTIONS))
        raise record.error(f"field 'section' must be {expected} or null, got {section!r}")
    return section


def _ordered(document: Document, positioned: list[tuple[int, Unit]], merge_runs: bool) -> Document:
    """Units in source order; with merge_runs, consecutive units of one speaker share a group."""
    positioned.sort(key=lambda pair: pair[0])
    document.units = [unit for _, unit in positioned]
    if merge_runs:
        _group_speaker_runs(document.units)
    else:
        _renumber_groups(document.units)
    return document


def _group_speaker_runs(units: list[Unit]) -> None:
    run = 0
    for position, unit in enumerate(units):
        if position and units[position - 1].speaker != unit.speaker:
            run += 1
        unit.group = run


def read_maec(folder: Path, warnings: list[str]) -> list[Document]:
    """MAEC calls: sentences merged into runs of one (anonymised) speaker, or of unlabeled text."""
    calls: dict[str, Document] = {}
    for record, call_id in _unique_records(_required_file(folder, "calls"), "call_id", _call_id, warnings):
        call_date = record.date("call_date")
        year, quarter = timing.reported_quarter(call_date)
        calls[call_id] = Document(
            source_dataset="maec",
            doc_id=call_id,
            ticker=record.identifier("ticker"),
            company=record.optional_label("company"),
            fiscal_period=timing.quarter_label(year, quarter),
            knowledge_ts=timing.known_from(call_date),
        )
    positioned: dict[str, list[tuple[int, Unit]]] = {call_id: [] for call_id in calls}
    sentences = _unique_records(
        _required_file(folder, "sentences"),
        "call_id and sentence_idx",
        lambda record: (_call_id(record), record.integer("sentence_idx", minimum=0)),
        warnings,
    )
    for record, (call_id, sentence_idx) in sentences:
        _known_call(record, call_id, calls, "calls")
        person = record.optional_label("person")
        unit = Unit(
            record.text("sentence"),
            group=0,
            section=UNKNOWN,
            speaker=person,
            speaker_role=speaker_role(person, {}),
            turn_idx=sentence_idx,
        )
        positioned[call_id].append((sentence_idx, unit))
    return [_ordered(document, positioned[call_id], merge_runs=True) for call_id, document in calls.items()]


# Filings ------------------------------------------------------------------------------------------

_ITEM_KEY = re.compile(r"item_(\d+)([A-Z]?)")
_NAMED_QUARTER = re.compile(r"(?<!\d)(\d{4})Q([1-4])(?!\d)")
_DATED = re.compile(r"dated-(\d{4}-\d{2}-\d{2})")
PAGE_FORM_TYPES = {
    "10k": "10-K",
    "10k_annualreport": "10-K",  # the glossy annual report that wraps the 10-K
    "10q": "10-Q",
    "8k": "8-K",
    "earnings": "earnings_release",
}


def _item_order(key: str) -> tuple[int, str]:
    number, letter = _ITEM_KEY.fullmatch(key).groups()
    return int(number), letter


def read_edgar_10k(folder: Path, warnings: list[str]) -> list[Document]:
    """EDGAR 10-Ks: one unit per Item, in Item order.

    The crawler writes every Item key for every filing, '' where the filing has no such Item
    (item_9C before 2021, say); those are absent Items, not empty text, so they make no chunk.
    """
    documents: list[Document] = []
    filings = _unique_records(
        _required_file(folder, "filings_10k"), "cik, filing_type and filing_date", _filing_id, warnings
    )
    for record, doc_id in filings:
        company = record.label("company")
        fiscal_year = timing.fiscal_year_of_period_end(record.date("period_of_report"))
        items = sorted((key for key in record.values if _ITEM_KEY.fullmatch(key)), key=_item_order)
        texts = [(key, record.optional_text(key)) for key in items]
        document = Document(
            source_dataset="edgar_10k",
            doc_id=doc_id,
            ticker=record.optional_identifier("ticker") or company,
            company=company,
            fiscal_period=timing.fiscal_year_label(fiscal_year),
            knowledge_ts=timing.known_from(record.date("filing_date")),
            form_type=record.label("filing_type"),
            units=[Unit(text, group=0, item=key) for key, text in texts if text],
        )
        _renumber_groups(document.units)
        documents.append(document)
    return documents


def _filing_id(record: Record) -> str:
    form_type = record.label("filing_type").replace("-", "")
    return f"{record.identifier('cik')}_{form_type}_{record.date('filing_date').isoformat()}"


def read_filing_pages(folder: Path, warnings: list[str]) -> list[Document]:
    """Filing pages: one document per doc_name, one unit per page, in page order.

    Every page repeats its document's company, ticker, type and period; pages that disagree stop
    the load. `documents.jsonl` adds only the sector and a link to the PDF, which the tables do not hold.
    """
    documents: dict[str, tuple[Document, Record]] = {}
    positioned: dict[str, list[tuple[int, Unit]]] = {}
    source = _required_file(folder, "pages")
    page_places = KeyedRecords(source, "doc_name and page_num")
    pages = _unique_records(source, "page_id", lambda record: record.identifier("page_id"), warnings)
    for record, _page_id in pages:
        doc_name = record.identifier("doc_name")
        page_num = record.integer("page_num", minimum=0)
        page_places.is_first(record, (doc_name, page_num))  # raises on a second, different page there
        document = _page_document(record, doc_name)
        first, first_record = documents.setdefault(doc_name, (document, record))
        if document != first:
            raise record.error(
                f"doc_name {doc_name!r} differs in document fields from {first_record.position}"
            )
        unit = Unit(record.text("text"), group=0, page=page_num)
        positioned.setdefault(doc_name, []).append((page_num, unit))
    return [
        _ordered(document, positioned[name], merge_runs=False)
        for name, (document, _first) in documents.items()
    ]


def _page_document(record: Record, doc_name: str) -> Document:
    company = record.label("company")
    doc_type = record.label("doc_type")
    form_type = PAGE_FORM_TYPES.get(doc_type.lower())
    if form_type is None:
        raise record.error(f"field 'doc_type' must be one of {sorted(PAGE_FORM_TYPES)}, got {doc_type!r}")
    fiscal_period, knowledge_ts = _page_period(record, doc_name, record.integer("doc_period", 1900, 2100))
    return Document(
        source_dataset="filing_pages",
        doc_id=doc_name,
        ticker=record.optional_identifier("ticker") or company,
        company=company,
        fiscal_period=fiscal_period,
        knowledge_ts=knowledge_ts,
        form_type=form_type,
    )


def _page_period(record: Record, doc_name: str, doc_period: int) -> tuple[str, dt.datetime]:
    """Period from a `YYYYQn` in the name, else the fiscal year; a `dated-` name gives the date."""
    quarter = _NAMED_QUARTER.search(doc_name)
    if quarter:
        year, number = int(quarter.group(1)), int(quarter.group(2))
        fiscal_period, estimate = timing.quarter_label(year, number), timing.quarter_known_from(year, number)
    else:
        fiscal_period, estimate = timing.fiscal_year_label(doc_period), timing.year_known_from(doc_period)
    dated = _DATED.search(doc_name)
    if dated is None:
        return fiscal_period, estimate
    try:
        published = dt.date.fromisoformat(dated.group(1))
    except ValueError:
        raise record.error(f"doc_name {doc_name!r} has an invalid date") from None
    if not EARLIEST_DATE <= published <= LATEST_DATE:
        raise record.error(f"doc_name {doc_name!r} has a date outside {EARLIEST_DATE}..{LATEST_DATE}")
    return fiscal_period, timing.known_from(published)


DATASETS = (
    Dataset("ectsum", "transcripts/ectsum", read_ectsum),
    Dataset("speaker_turns", "transcripts/speaker_turns", read_speaker_turns),
    Dataset("maec", "transcripts/maec", read_maec),
    Dataset("edgar_10k", "filings/edgar_10k", read_edgar_10k),
    Dataset("filing_pages", "filings/filing_pages", read_filing_pages),
)
