"""Fuzz: bad values in every field of every reader end in a clear error or a quarantine row.

Each case is one small corpus (one dataset, records whose ids and texts are the case's own) with
one field of one record mutated: missing, null, empty, blank, the wrong type, control characters,
huge, out of range, an unknown choice, or a list that is empty or holds an empty, control or
wrongly typed element; and per file, a record repeated as it is and one repeated with other content.
Every case is loaded into one warehouse. A refused case must raise LoadError naming the file and
the record and commit nothing; an accepted case must load and, after one dbt build of staging and
curation, be kept or quarantined with the expected reason; a document left without text must be
reported. Then the counts must reconcile: chunks reported = raw rows = curated + quarantined.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from vectorfin.config.locations import StateLocations
from vectorfin.dbt_workspace import DbtWorkspace, run_dbt
from vectorfin.iceberg import FILING_CHUNKS, RAW_NAMESPACE, TRANSCRIPT_CHUNKS, get_catalog
from vectorfin.loading import LoadError, load_corpus

ERROR, KEPT, REPORTED = "error", "kept", "reported"  # reported: a document without text, not loaded
MISSING = object()  # the field is left out of the record
HUGE_WORDS = 8_000  # about 100,000 characters
HUGE_LIST = 500


def _words(case: int, part: str, count: int) -> str:
    """Words no other case or part shares, so no two chunks look like duplicates to curation."""
    return " ".join(f"{part}{case}w{index}" for index in range(count))


def _text(case: int, part: str) -> str:
    return f"Fuzz case {case} says {_words(case, part, 12)}."


def _base(case: int) -> dict[str, dict[str, list[dict[str, object]]]]:
    """Clean records of every dataset (folder -> file stem -> records), with the case's own ids."""
    call = {"ticker": "FZA", "company": "Fuzz Holdings", "fiscal_year": 2023, "fiscal_quarter": 1}
    return {
        "transcripts/ectsum": {
            "calls": [
                {
                    "call_id": f"FZ{case}E",
                    **call,
                    "transcript_sentences": [_text(case, "s")],
                    "summary_bullets": [_text(case, "b")],
                }
            ]
        },
        "transcripts/speaker_turns": {
            "calls": [
                {
                    "call_id": f"FZ{case}T",
                    **call,
                    "participants": [
                        "Ann Lee--Chief Executive Officer",
                        "Bob Ray--Acme Securities -- Analyst",
                    ],
                }
            ],
            "turns": [
                {
                    "call_id": f"FZ{case}T",
                    "turn_idx": 0,
                    "section": "q_and_a",
                    "speaker": "Ann Lee",
                    "speech": _text(case, "p"),
                }
            ],
        },
        "transcripts/maec": {
            "calls": [
                {"call_id": f"FZ{case}M", "call_date": "2023-05-02", "ticker": "FZA", "company": "Fuzz"}
            ],
            "sentences": [
                {
                    "call_id": f"FZ{case}M",
                    "sentence_idx": 0,
                    "person": "Person0",
                    "sentence": _text(case, "m"),
                }
            ],
        },
        "filings/edgar_10k": {
            "filings_10k": [
                {
                    "cik": f"99{case:05d}",
                    "company": "APPLE",  # in the seed company_tickers: a missing ticker resolves
                    "ticker": "FZC",
                    "filing_type": "10-K",
                    "filing_date": "2023-02-24",
                    "period_of_report": "2022-12-31",
                    "item_1": _text(case, "i"),
                }
            ]
        },
        "filings/filing_pages": {
            "pages": [
                {
                    "page_id": f"FZ{case}_2023Q1_10Q#p0",
                    "doc_name": f"FZ{case}_2023Q1_10Q",
                    "company": "APPLE",
                    "ticker": "FZB",
                    "doc_type": "10q",
                    "doc_period": 2023,
                    "page_num": 0,
                    "text": _text(case, "g"),
                }
            ]
        },
    }


DOC_IDS: dict[str, Callable[[int], tuple[str, str]]] = {  # folder -> (source_dataset, doc_id) of a case
    "transcripts/ectsum": lambda case: ("ectsum", f"FZ{case}E"),
    "transcripts/speaker_turns": lambda case: ("speaker_turns", f"FZ{case}T"),
    "transcripts/maec": lambda case: ("maec", f"FZ{case}M"),
    "filings/edgar_10k": lambda case: ("edgar_10k", f"99{case:05d}_10K_2023-02-24"),
    "filings/filing_pages": lambda case: ("filing_pages", f"FZ{case}_2023Q1_10Q"),
}

# (folder, file stem, field, kind)
FIELDS = [
    *(
        ("transcripts/ectsum", "calls", name, kind)
        for name, kind in [
            ("call_id", "id"),
            ("ticker", "id"),
            ("company", "optional_label"),
            ("fiscal_year", "integer"),
            ("fiscal_quarter", "integer"),
            ("transcript_sentences", "content_list"),
            ("summary_bullets", "content_list"),
        ]
    ),
    *(
        ("transcripts/speaker_turns", "calls", name, kind)
        for name, kind in [
            ("call_id", "id"),
            ("ticker", "id"),
            ("company", "optional_label"),
            ("fiscal_year", "integer"),
            ("fiscal_quarter", "integer"),
            ("participants", "label_list"),
        ]
    ),
    *(
        ("transcripts/speaker_turns", "turns", name, kind)
        for name, kind in [
            ("call_id", "id"),
            ("turn_idx", "integer"),
            ("section", "optional_choice"),
            ("speaker", "optional_label"),
            ("speech", "content"),
        ]
    ),
    *(
        ("transcripts/maec", "calls", name, kind)
        for name, kind in [
            ("call_id", "id"),
            ("call_date", "date"),
            ("ticker", "id"),
            ("company", "optional_label"),
        ]
    ),
    *(
        ("transcripts/maec", "sentences", name, kind)
        for name, kind in [
            ("call_id", "id"),
            ("sentence_idx", "integer"),
            ("person", "optional_label"),
            ("sentence", "content"),
        ]
    ),
    *(
        ("filings/edgar_10k", "filings_10k", name, kind)
        for name, kind in [
            ("cik", "id"),
            ("company", "label"),
            ("ticker", "optional_label"),
            ("filing_type", "label"),
            ("filing_date", "date"),
            ("period_of_report", "date"),
            ("item_1", "optional_content"),
        ]
    ),
    *(
        ("filings/filing_pages", "pages", name, kind)
        for name, kind in [
            ("page_id", "id"),
            ("doc_name", "id"),
            ("company", "label"),
            ("ticker", "optional_label"),
            ("doc_type", "choice"),
            ("doc_period", "integer"),
            ("page_num", "integer"),
            ("text", "content"),
        ]
    ),
]

_TEXT_MUTATIONS = ("missing", "null", "empty", "blank", "wrong_type", "control", "huge")
_LIST_MUTATIONS = (
    "missing",
    "null",
    "wrong_type",
    "empty_list",
    "element_empty",
    "element_wrong_type",
    "control",
    "huge",
)
_NUMBER_MUTATIONS = ("missing", "null", "empty", "wrong_type", "control", "huge", "out_of_range")


def _quarantined(reason: str) -> str:
    return f"quarantined:{reason}"


def _every(mutations: tuple[str, ...], outcome: str, **exceptions: str) -> dict[str, str]:
    return {mutation: exceptions.get(mutation, outcome) for mutation in mutations}


_OPTIONAL = {"missing": KEPT, "null": KEPT, "empty": KEPT, "blank": KEPT}
# The rules under test (see vectorfin.loading.validation): ids, labels, numbers and dates are refused
# when bad; content text is loaded and judged per chunk by the dbt quarantine.
EXPECTED: dict[str, dict[str, str]] = {
    "id": _every(_TEXT_MUTATIONS, ERROR),
    "label": _every(_TEXT_MUTATIONS, ERROR),
    "choice": _every((*_TEXT_MUTATIONS, "unknown_choice"), ERROR),
    "optional_label": _every(_TEXT_MUTATIONS, ERROR, **_OPTIONAL),
    "optional_choice": _every((*_TEXT_MUTATIONS, "unknown_choice"), ERROR, **_OPTIONAL),
    "integer": _every(_NUMBER_MUTATIONS, ERROR),
    "date": _every(_NUMBER_MUTATIONS, ERROR),
    "content": _every(
        _TEXT_MUTATIONS,
        ERROR,
        empty=_quarantined("missing_text"),
        blank=_quarantined("missing_text"),
        control=_quarantined("control_characters"),
        huge=KEPT,
    ),
    "optional_content": _every(
        _TEXT_MUTATIONS,
        ERROR,
        missing=REPORTED,
        null=REPORTED,
        empty=REPORTED,  # an EDGAR Item that is '' is absent, and this filing has no other
        blank=_quarantined("missing_text"),
        control=_quarantined("control_characters"),
        huge=KEPT,
    ),
    "content_list": _every(
        _LIST_MUTATIONS,
        ERROR,
        empty_list=KEPT,  # the call's other list still has text
        element_empty=_quarantined("missing_text"),
        control=_quarantined("control_characters"),
        huge=KEPT,
    ),
    "label_list": _every(_LIST_MUTATIONS, ERROR, empty_list=KEPT, element_empty=KEPT, huge=KEPT),
}
# Per file: the first record repeated as it is (skipped, reported) or with other content (refused).
REPEATS = {
    ("transcripts/ectsum", "calls"): "ticker",
    ("transcripts/speaker_turns", "calls"): "ticker",
    ("transcripts/speaker_turns", "turns"): "speech",
    ("transcripts/maec", "calls"): "ticker",
    ("transcripts/maec", "sentences"): "sentence",
    ("filings/edgar_10k", "filings_10k"): "company",
    ("filings/filing_pages", "pages"): "text",
}


def _mutated(value: object, kind: str, mutation: str, case: int) -> object:
    """The value `mutation` puts in place of a field's clean `value` (MISSING: leave the field out)."""
    shape = "list" if isinstance(value, list) else "integer" if kind == "integer" else kind
    element = value[0] if isinstance(value, list) and value else "Ann Lee"
    return {
        "missing": MISSING,
        "null": None,
        "empty": "",
        "blank": "   ",
        "wrong_type": {"list": "a text, not a list", "integer": 1.5, "date": 20230502}.get(
            shape, ["a", "list"]
        ),
        "control": [f"{element}\u0000\u0007"]
        if shape == "list"
        else f"{value}\u0000\u0007"
        if shape not in {"integer"}
        else "1\u0000",
        "huge": [_text(case, f"h{index}x") for index in range(HUGE_LIST)]
        if shape == "list"
        else 10**12
        if shape == "integer"
        else f"{value}{'0' * HUGE_WORDS}"
        if shape == "date"
        else _words(case, "h", HUGE_WORDS),
        "out_of_range": {"integer": -5, "date": "1850-01-01"}.get(shape),
        "unknown_choice": "closing_remarks",
        "empty_list": [],
        "element_empty": [""],
        "element_wrong_type": [42],
    }[mutation]


@dataclass(frozen=True)
class Case:
    number: int
    folder: str
    stem: str
    description: str
    expected: str
    records: dict[str, list[dict[str, object]]]  # the folder's files

    @property
    def doc_key(self) -> tuple[str, str]:
        return DOC_IDS[self.folder](self.number)


def _cases() -> list[Case]:
    cases: list[Case] = []
    for folder, stem, name, kind in FIELDS:
        for mutation, expected in EXPECTED[kind].items():
            number = len(cases)
            records = _base(number)[folder]
            value = _mutated(records[stem][0][name], kind, mutation, number)
            if value is MISSING:
                del records[stem][0][name]
            else:
                records[stem][0][name] = value
            cases.append(Case(number, folder, stem, f"{stem}.{name}: {mutation}", expected, records))
    for (folder, stem), field in REPEATS.items():
        for repeat, expected in (("repeated", KEPT), ("repeated with other content", ERROR)):
            number = len(cases)
            records = _base(number)[folder]
            first = records[stem][0]
            changed = {field: f"{first[field]} other"} if expected == ERROR else {}
            records[stem].append({**first, **changed})
            cases.append(Case(number, folder, stem, f"{stem}: first record {repeat}", expected, records))
    return cases


def _write(case: Case, root: Path) -> Path:
    corpus = root / f"case_{case.number:03d}"
    for stem, records in case.records.items():
        path = corpus / case.folder / f"{stem}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(record) + "\n" for record in records))
    return corpus


def _snapshots(settings: StateLocations) -> dict[str, int | None]:
    catalog = get_catalog(settings)
    return {
        name: getattr(catalog.load_table(f"{RAW_NAMESPACE}.{name}").current_snapshot(), "snapshot_id", None)
        for name in (TRANSCRIPT_CHUNKS, FILING_CHUNKS)
        if catalog.table_exists(f"{RAW_NAMESPACE}.{name}")
    }


def test_every_bad_value_is_refused_or_quarantined(settings: StateLocations, tmp_path: Path) -> None:
    cases = _cases()
    outcomes: dict[int, str] = {}
    warnings: dict[int, list[str]] = {}
    chunks_reported = 0
    for case in cases:
        corpus = _write(case, tmp_path / "cases")
        before = _snapshots(settings)
        try:
            report = load_corpus([corpus], progress=False)
        except LoadError as error:
            bad_file = corpus / case.folder / f"{case.stem}.jsonl"
            assert str(error).startswith(f"{bad_file}, line "), (case.description, str(error))
            assert _snapshots(settings) == before, case.description
            outcomes[case.number] = ERROR
            continue
        chunks_reported += sum(report.added_chunks.values())
        warnings[case.number] = report.warnings
        outcomes[case.number] = KEPT  # for now: curation decides below

    workspace = DbtWorkspace.create(tmp_path)  # the same warehouse as `settings`
    build = run_dbt(
        ["build", "--select", "+int_chunks_curated", "+rejected_chunks", "--indirect-selection", "cautious"],
        workspace.env,
    )
    assert build.ok, build.summary()
    raw = workspace.query("select source_dataset, doc_id, count(*) from int_chunks_unioned group by all")
    rejected = workspace.query("select source_dataset, doc_id, reason from rejected_chunks")
    curated = workspace.query("select count(*) from int_chunks_curated")[0][0]
    loaded = {(dataset, doc_id): count for dataset, doc_id, count in raw}
    reasons: dict[tuple[str, str], set[str]] = {}
    for dataset, doc_id, reason in rejected:
        reasons.setdefault((dataset, doc_id), set()).add(reason)

    for case in cases:
        if outcomes[case.number] == ERROR:
            continue
        if case.doc_key not in loaded:
            assert any(case.doc_key[1] in warning for warning in warnings[case.number]), case.description
            outcomes[case.number] = REPORTED
        elif case.doc_key in reasons:
            outcomes[case.number] = _quarantined(",".join(sorted(reasons[case.doc_key])))
    mismatches = [
        f"{case.description}: expected {case.expected}, got {outcomes[case.number]}"
        for case in cases
        if outcomes[case.number] != case.expected
    ]
    assert mismatches == []
    repeated = [case for case in cases if case.description.endswith("first record repeated")]
    assert all("skipped 1 record(s)" in " ".join(warnings[case.number]) for case in repeated)
    assert chunks_reported == sum(loaded.values()) == curated + len(rejected)
    print(f"\n{len(cases)} fuzz cases: {dict(Counter(outcomes.values()))}")
