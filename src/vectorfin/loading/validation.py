"""Reading corpus files (Parquet or JSON Lines) and checking their fields, record by record.

Every problem raises `LoadError` with the file, the record's position (`row N` in Parquet, from 0;
`line N` in JSON Lines, from 1) and its id, so a bad record can be found and fixed at the source.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SUPPORTED_SUFFIXES = (".parquet", ".jsonl")
_DIGITS = re.compile(r"[+-]?\d+")


class LoadError(Exception):
    """Malformed corpus input; raised before anything is committed."""


@dataclass(frozen=True)
class SourceFile:
    """The records of one file, with where each came from in it."""

    path: Path
    records: list[dict[str, Any]]
    positions: list[int]
    position_kind: str  # "row" (Parquet) or "line" (JSON Lines)

    def __iter__(self) -> Iterator[Record]:
        for record, position in zip(self.records, self.positions, strict=True):
            yield Record(self, position, record)

    def __len__(self) -> int:
        return len(self.records)


def find_source_file(folder: Path, stem: str) -> Path | None:
    """`<stem>.parquet` or `<stem>.jsonl` in `folder`; None when neither is there."""
    found = [path for path in (folder / f"{stem}{suffix}" for suffix in SUPPORTED_SUFFIXES) if path.exists()]
    if len(found) > 1:
        raise LoadError(f"{folder}: both {found[0].name} and {found[1].name} exist; keep one")
    return found[0] if found else None


def read_source_file(path: Path) -> SourceFile:
    if path.suffix == ".parquet":
        return _read_parquet(path)
    if path.suffix == ".jsonl":
        return _read_jsonl(path)
    raise LoadError(f"{path}: unsupported file type (expected {' or '.join(SUPPORTED_SUFFIXES)})")


def _read_parquet(path: Path) -> SourceFile:
    try:
        records = pq.read_table(path).to_pylist()
    except (pa.ArrowException, OSError) as error:
        raise LoadError(f"{path}: not a readable Parquet file ({error})") from error
    return SourceFile(path, records, list(range(len(records))), "row")


def _read_jsonl(path: Path) -> SourceFile:
    records: list[dict[str, Any]] = []
    positions: list[int] = []
    try:
        with path.open(encoding="utf-8") as lines:
            for line_number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                records.append(_json_object(path, line_number, line))
                positions.append(line_number)
    except (OSError, UnicodeDecodeError) as error:
        raise LoadError(f"{path}: not a readable UTF-8 text file ({error})") from error
    return SourceFile(path, records, positions, "line")


def _json_object(path: Path, line_number: int, line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except json.JSONDecodeError as error:
        raise LoadError(f"{path}, line {line_number}: invalid JSON ({error.msg})") from error
    if not isinstance(value, dict):
        raise LoadError(f"{path}, line {line_number}: expected a JSON object, got {type(value).__name__}")
    return value


class Record:
    """One record with typed accessors whose errors name the file, the position and the id."""

    __slots__ = ("_position", "_source", "values")

    def __init__(self, source: SourceFile, position: int, values: dict[str, Any]) -> None:
        self._source = source
        self._position = position
        self.values = values

    def error(self, message: str) -> LoadError:
        present = (name for name in _ID_FIELDS if self.values.get(name) is not None)
        ids = ", ".join(f"{name}={self.values[name]!r}" for name in present)
        where = f"{self._source.path}, {self._source.position_kind} {self._position}"
        return LoadError(f"{where}{f' ({ids})' if ids else ''}: {message}")

    def _value(self, name: str, optional: bool) -> Any:
        value = self.values.get(name)
        if value is None and not optional:
            missing = name not in self.values
            raise self.error(f"field '{name}' is {'missing' if missing else 'null'}")
        return value

    def text(self, name: str) -> str:
        value = self._value(name, optional=False)
        if not isinstance(value, str):
            raise self.error(f"field '{name}' must be text, got {value!r}")
        return value

    def optional_text(self, name: str) -> str | None:
        value = self._value(name, optional=True)
        if value is not None and not isinstance(value, str):
            raise self.error(f"field '{name}' must be text or null, got {value!r}")
        return value

    def identifier(self, name: str) -> str:
        """Text or an integer (ids such as a CIK appear as either), as text."""
        value = self._value(name, optional=False)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip():
            raise self.error(f"field '{name}' must be a non-empty id, got {value!r}")
        return value.strip()

    def integer(self, name: str, minimum: int | None = None, maximum: int | None = None) -> int:
        value = self._value(name, optional=False)
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"field '{name}' must be an integer, got {value!r}")
        if minimum is not None and value < minimum:
            raise self.error(f"field '{name}' must be at least {minimum}, got {value}")
        if maximum is not None and value > maximum:
            raise self.error(f"field '{name}' must be at most {maximum}, got {value}")
        return value

    def date(self, name: str) -> dt.date:
        value = self._value(name, optional=False)
        if isinstance(value, dt.datetime):
            return value.date()
        if isinstance(value, dt.date):
            return value
        try:
            return dt.date.fromisoformat(value.strip())
        except (AttributeError, ValueError):
            raise self.error(f"field '{name}' must be a date (YYYY-MM-DD), got {value!r}") from None

    def text_list(self, name: str) -> list[str]:
        value = self._value(name, optional=False)
        if not isinstance(value, list) or not all(isinstance(element, str) for element in value):
            raise self.error(f"field '{name}' must be a list of texts, got {str(value)[:80]!r}")
        return value


# The fields that identify a record in error messages (those present are shown).
_ID_FIELDS = ("call_id", "turn_idx", "sentence_idx", "page_id", "cik", "filing_date")
