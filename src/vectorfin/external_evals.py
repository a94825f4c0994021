"""External retrieval evaluation sets (TAT-QA dev, ConvFinQA dev) in the shape of the eval marts.

The dbt Python models `external_eval_queries`, `external_eval_corpus` and `external_eval_qrels` call
`load_external_evals` and return one of its frames; the SQL marts `eval_queries`, `eval_corpus` and
`eval_qrels` union them with the held-out pairs. A set whose file is absent contributes no rows, and
with no files at all the frames are empty but keep their columns, so the build works without the data.

* tatqa_dev: each question answered from the text (`answer_from == "text"`) is a query; its relevant
  documents are its `rel_paragraphs` (paragraph order numbers within its context). The corpus is every
  paragraph of every context plus each context's table flattened to text (one row per line, cells
  joined by " | "), so the table-only questions' material is there to compete with.
* convfinqa_dev: each conversation's first question is a query; its one relevant document is the
  filing page it was asked about, pre_text + table + post_text. Pages asked about by several
  conversations (`Single_X/2017/page_5.pdf-1`, `-2`, `Double_...`) are one document.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from vectorfin.config import PROJECT_ROOT

EVALS_DIR_ENV = "VECTORFIN_EVALS_DIR"
DEFAULT_EVALS_DIR = "../shared/data/evals"
TATQA_FILE = Path("tatqa_dev") / "tatqa_dataset_dev.json"
CONVFINQA_FILE = Path("convfinqa_dev") / "convfinqa_dev.json"

QUERY_COLUMNS = ("eval_set", "query_id", "query_text")
CORPUS_COLUMNS = ("eval_set", "doc_id", "doc_text")
QRELS_COLUMNS = ("eval_set", "query_id", "doc_id", "relevance")

_CONVFINQA_PAGE = re.compile(r"^(?:Single_|Double_)?(?P<page>.+?)(?:-\d+)?$")


@dataclass
class EvalFrames:
    """The three frames of one or more eval sets."""

    queries: pd.DataFrame
    corpus: pd.DataFrame
    qrels: pd.DataFrame


def resolve_evals_dir(value: str | os.PathLike[str] | None = None) -> Path:
    """The evals folder: `value`, else $VECTORFIN_EVALS_DIR, else ../shared/data/evals; relative paths
    are taken from the project root (where dbt runs), not from the current directory."""
    raw = value if value not in (None, "") else os.environ.get(EVALS_DIR_ENV) or DEFAULT_EVALS_DIR
    path = Path(raw).expanduser()
    return path if path.is_absolute() else (PROJECT_ROOT / path).resolve()


def load_external_evals(evals_dir: str | os.PathLike[str] | None = None) -> EvalFrames:
    """TAT-QA dev and ConvFinQA dev from `evals_dir` (see `resolve_evals_dir`), whichever are present."""
    folder = resolve_evals_dir(evals_dir)
    frames = [
        reader(folder / relative)
        for relative, reader in ((TATQA_FILE, read_tatqa), (CONVFINQA_FILE, read_convfinqa))
        if (folder / relative).is_file()
    ]
    return EvalFrames(
        queries=_concat([frame.queries for frame in frames], QUERY_COLUMNS),
        corpus=_concat([frame.corpus for frame in frames], CORPUS_COLUMNS),
        qrels=_concat([frame.qrels for frame in frames], QRELS_COLUMNS),
    )


def read_tatqa(path: Path, eval_set: str = "tatqa_dev") -> EvalFrames:
    contexts = json.loads(path.read_text(encoding="utf-8"))
    queries, corpus, qrels = [], {}, []
    for context in contexts:
        paragraphs = {str(paragraph["order"]): paragraph for paragraph in context.get("paragraphs", [])}
        for paragraph in paragraphs.values():
            corpus.setdefault(paragraph["uid"], _clean(paragraph["text"]))
        table = context.get("table") or {}
        if table.get("table"):
            corpus.setdefault(table["uid"], flatten_table(table["table"]))
        for question in context.get("questions", []):
            if question.get("answer_from") != "text":
                continue
            relevant = [
                paragraphs[order]["uid"]
                for order in map(str, question.get("rel_paragraphs", []))
                if order in paragraphs
            ]
            if not relevant:
                continue
            queries.append((eval_set, question["uid"], _clean(question["question"])))
            qrels.extend((eval_set, question["uid"], doc_id, 1) for doc_id in dict.fromkeys(relevant))
    return _frames(eval_set, queries, corpus, qrels)


def read_convfinqa(path: Path, eval_set: str = "convfinqa_dev") -> EvalFrames:
    payload = json.loads(path.read_text(encoding="utf-8"))
    entries = payload["dev"] if isinstance(payload, dict) else payload
    queries, corpus, qrels = [], {}, []
    for entry in entries:
        questions = (entry.get("dialogue") or {}).get("conv_questions") or []
        if not questions:
            continue
        doc_id = convfinqa_page_id(entry["id"])
        doc = entry.get("doc") or {}
        corpus.setdefault(doc_id, convfinqa_document_text(doc))
        queries.append((eval_set, entry["id"], _clean(questions[0])))
        qrels.append((eval_set, entry["id"], doc_id, 1))
    return _frames(eval_set, queries, corpus, qrels)


def convfinqa_page_id(entry_id: str) -> str:
    """`Single_MRO/2007/page_134.pdf-1` -> `MRO/2007/page_134.pdf`: the page, whoever asked about it."""
    match = _CONVFINQA_PAGE.match(entry_id)
    return match.group("page") if match else entry_id


def convfinqa_document_text(doc: dict[str, Any]) -> str:
    parts = [
        _join_text(doc.get("pre_text")),
        flatten_table(doc.get("table") or []),
        _join_text(doc.get("post_text")),
    ]
    return "\n".join(part for part in parts if part)


def flatten_table(rows: Iterable[Iterable[Any]]) -> str:
    """A table as text: one line per row, cells joined by ' | ', empty cells dropped."""
    lines = []
    for row in rows:
        cells = [_clean(str(cell)) for cell in row if cell is not None and str(cell).strip()]
        if cells:
            lines.append(" | ".join(cells))
    return "\n".join(lines)


def _join_text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return _clean(value)
    return " ".join(_clean(str(part)) for part in value if str(part).strip())


def _clean(text: str) -> str:
    return " ".join(text.split())


def _frames(eval_set: str, queries: list[tuple], corpus: dict[str, str], qrels: list[tuple]) -> EvalFrames:
    return EvalFrames(
        queries=_frame(queries, QUERY_COLUMNS),
        corpus=_frame([(eval_set, doc_id, text) for doc_id, text in corpus.items()], CORPUS_COLUMNS),
        qrels=_frame(qrels, QRELS_COLUMNS),
    )


def _frame(rows: list[tuple], columns: tuple[str, ...]) -> pd.DataFrame:
    frame = pd.DataFrame.from_records(rows, columns=list(columns))
    return _typed(frame)


def _typed(frame: pd.DataFrame) -> pd.DataFrame:
    """Fixed column types, so an empty frame still becomes VARCHAR / INTEGER columns in DuckDB."""
    types = {column: ("int32" if column == "relevance" else "string") for column in frame.columns}
    return frame.astype(types)


def _concat(frames: list[pd.DataFrame], columns: tuple[str, ...]) -> pd.DataFrame:
    present = [frame for frame in frames if len(frame)]
    if not present:
        return _typed(pd.DataFrame({column: [] for column in columns}))
    return _typed(pd.concat(present, ignore_index=True)[list(columns)])
