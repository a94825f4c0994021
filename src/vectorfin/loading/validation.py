"""Reading corpus files (Parquet or JSON Lines) and checking their fields, record by record.

Every problem raises `LoadError` with the file, the record's position (`row N` in Parquet, from 0;
`line N` in JSON Lines, from 1) and its id, so a bad record can be found and fixed at the source.

Field kinds and their rules:

* ids (`identifier`) and labels (`label`: company, speaker, form type...) are structure: they must
  be printable (no control characters) and at most `MAX_LABEL_CHARS` long, or the load stops.
* content text (`text`, `text_list`) is taken as it is: empty, control characters or boilerplate
  are judged per chunk by the dbt quarantine, so one bad sentence does not block a corpus.
* integers must fit their Iceberg column (32 bits) and dates lie within `EARLIEST_DATE`..`LATEST_DATE`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

SUPPORTED_SUFFIXES = (".parquet", ".jsonl")
_DIGITS = re.compile(r"[+-]?\d+")
MAX_LABEL_CHARS = 256  # ids, names and types; the longest in ../shared/data has 46 characters
MAX_INT32 = 2**31 - 1  # every integer column of the raw tables is a 32-bit int
EARLIEST_DATE = dt.date(1900, 1, 1)
LATEST_DATE = dt.date(2100, 12, 31)


class LoadError(Exception):
    """A load that failed: malformed input (raised before anything is committed), schema drift, or a
    failed commit. `kept` names the tables that keep part of the load (empty: nothing was kept)."""

    def __init__(self, message: str, kept: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.kept = list(kept)


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
    """The file's records; a file without any is an error (its documents would silently vanish)."""
    if path.suffix == ".parquet":
        source = _read_parquet(path)
    elif path.suffix == ".jsonl":
        source = _read_jsonl(path)
    else:
        raise LoadError(f"{path}: unsupported file type (expected {' or '.join(SUPPORTED_SUFFIXES)})")
    if not source.records:
        raise LoadError(f"{path}: the file holds no records")
    return source


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
        value = json.loads(line, object_pairs_hook=_object_without_repeated_keys)
    except json.JSONDecodeError as error:
        raise LoadError(f"{path}, line {line_number}: invalid JSON ({error.msg})") from error
    except _RepeatedKeyError as error:
        raise LoadError(
            f"{path}, line {line_number}: key {error.key!r} appears twice in one object; "
            "which value is meant is unclear"
        ) from None
    if not isinstance(value, dict):
        raise LoadError(f"{path}, line {line_number}: expected a JSON object, got {type(value).__name__}")
    return value


class _RepeatedKeyError(ValueError):
    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _object_without_repeated_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    """A JSON object, refused when a key repeats (json.loads would keep the last value silently)."""
    value: dict[str, Any] = {}
    for key, item in pairs:
        if key in value:
            raise _RepeatedKeyError(key)
        value[key] = item
    return value


class Record:
    """One record with typed accessors whose errors name the file, the position and the id."""

    __slots__ = ("_position", "_source", "values")

    def __init__(self, source: SourceFile, position: int, values: dict[str, Any]) -> None:
        self._source = source
        self._position = position
        self.values = values

    @property
    def position(self) -> str:
        """`line N` or `row N`: where the record is in its file."""
        return f"{self._source.position_kind} {self._position}"

    def error(self, message: str) -> LoadError:
        present = (name for name in _ID_FIELDS if self.values.get(name) is not None)
        ids = ", ".join(f"{name}={_shown(self.values[name])}" for name in present)
        where = f"{self._source.path}, {self.position}"
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
            raise self.error(f"field '{name}' must be a non-empty id, got {_shown(value)}")
        return self._printable(name, value.strip())

    def optional_identifier(self, name: str) -> str | None:
        """An id that may be absent: null or blank gives None."""
        value = self._value(name, optional=True)
        if value is None or (isinstance(value, str) and not value.strip()):
            return None
        return self.identifier(name)

    def label(self, name: str) -> str:
        """A required short text (a company, a form type), stripped: non-empty and printable."""
        value = self.optional_label(name)
        if value is None:
            self._value(name, optional=False)  # null or missing: that error
            raise self.error(f"field '{name}' is empty")
        return value

    def optional_label(self, name: str) -> str | None:
        """A short text that may be absent (a speaker): null or blank gives None."""
        value = self._value(name, optional=True)
        if value is not None and not isinstance(value, str):
            raise self.error(f"field '{name}' must be text or null, got {_shown(value)}")
        if value is None or not value.strip():
            return None
        return self._printable(name, value.strip())

    def label_list(self, name: str) -> list[str]:
        values = self.text_list(name)
        for value in values:
            self._printable(name, value)
        return values

    def _printable(self, name: str, value: str) -> str:
        if len(value) > MAX_LABEL_CHARS:
            raise self.error(f"field '{name}' must be at most {MAX_LABEL_CHARS} characters, got {len(value)}")
        control = next((character for character in value if unicodedata.category(character) == "Cc"), None)
        if control is not None:
            raise self.error(f"field '{name}' holds the control character {control!r}: {_shown(value)}")
        return value

    def integer(self, name: str, minimum: int | None = None, maximum: int = MAX_INT32) -> int:
        value = self._value(name, optional=False)
        if isinstance(value, str) and _DIGITS.fullmatch(value.strip()):
            value = int(value)
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(f"field '{name}' must be an integer, got {_shown(value)}")
        if minimum is not None and value < minimum:
            raise self.error(f"field '{name}' must be at least {minimum}, got {value}")
        if value > maximum:
            raise self.error(f"field '{name}' must be at most {maximum}, got {value}")
        return value

    def date(self, name: str) -> dt.date:
        value = self._value(name, optional=False)
        if isinstance(value, dt.datetime):
            value = value.date()
        elif not isinstance(value, dt.date):
            try:
                value = dt.date.fromisoformat(value.strip())
            except (AttributeError, ValueError):
                raise self.error(f"field '{name}' must be a date (YYYY-MM-DD), got {_shown(value)}") from None
        if not EARLIEST_DATE <= value <= LATEST_DATE:
            raise self.error(f"field '{name}' must lie in {EARLIEST_DATE}..{LATEST_DATE}, got {value}")
        return value

    def text_list(self, name: str) -> list[str]:
        value = self._value(name, optional=False)
        if not isinstance(value, list) or not all(isinstance(element, str) for element in value):
            raise self.error(f"field '{name}' must be a list of texts, got {_shown(value)}")
        return value


def _shown(value: Any) -> str:
    """A value as an error message shows it: its repr, cut short."""
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."


class KeyedRecords:
    """The first record of each key in one file: an identical repeat is skipped and counted, a repeat
    with other content is an error naming both records."""

    def __init__(self, source: SourceFile, key_names: str) -> None:
        self._source = source
        self._key_names = key_names
        self._first: dict[object, Record] = {}
        self.skipped: list[str] = []

    def is_first(self, record: Record, key: object) -> bool:
        earlier = self._first.setdefault(key, record)
        if earlier is record:
            return True
        if earlier.values != record.values:
            raise record.error(f"same {self._key_names} as {earlier.position}, with different content")
        self.skipped.append(f"{record.position} = {earlier.position}")
        return False

    def warning(self) -> str | None:
        """A note on the skipped repeats, for the load's report."""
        if not self.skipped:
            return None
        examples = ", ".join(self.skipped[:3])
        return (
            f"{self._source.path}: skipped {len(self.skipped)} record(s) repeating an earlier one "
            f"with the same {self._key_names} and content ({examples})"
        )


# The fields that identify a record in error messages (those present are shown).
_ID_FIELDS = ("call_id", "turn_idx", "sentence_idx", "page_id", "cik", "filing_date")
