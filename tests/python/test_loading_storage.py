"""Loads on a full disk or a read-only warehouse: a clear error naming the path, a non-zero exit, nothing
committed, no data file or manifest left that no snapshot references, and the next load succeeds.

Simulated failures (any machine): a write of a data file, a manifest or the catalog's commit raises the
error a full disk or a read-only file gives. Real ones where this machine allows (root): a tmpfs too
small for the load, and a warehouse made immutable with chattr.
"""

from __future__ import annotations

import errno
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from pyiceberg.catalog.sql import SqlCatalog
from pyiceberg.io import OutputStream
from pyiceberg.io.pyarrow import PyArrowFile
from pyiceberg.table import Table
from sqlalchemy.exc import OperationalError

from vectorfin import cli
from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.iceberg import FILING_CHUNKS, RAW_NAMESPACE, TRANSCRIPT_CHUNKS, get_catalog

TABLES = (TRANSCRIPT_CHUNKS, FILING_CHUNKS)
DEMO_CHUNKS = {TRANSCRIPT_CHUNKS: 98, FILING_CHUNKS: 22}


def unreferenced_files(settings: StateLocations) -> list[str]:
    """Data files and manifests under the raw tables' folders that no snapshot references."""
    catalog = get_catalog(settings)
    found = []
    for name in TABLES:
        folder = Path(settings.table_location(RAW_NAMESPACE, name))
        written = {f"file://{path}" for path in folder.rglob("*") if path.suffix in {".parquet", ".avro"}}
        referenced: set[str] = set()
        if catalog.table_exists(f"{RAW_NAMESPACE}.{name}"):
            table = catalog.load_table(f"{RAW_NAMESPACE}.{name}")
            if table.snapshots():
                referenced.update(table.inspect.all_files()["file_path"].to_pylist())
                referenced.update(table.inspect.all_manifests()["path"].to_pylist())
                referenced.update(snapshot.manifest_list for snapshot in table.snapshots())
        found.extend(sorted(written - referenced))
    return found


def chunk_counts(settings: StateLocations) -> dict[str, int]:
    catalog = get_catalog(settings)
    return {name: catalog.load_table(f"{RAW_NAMESPACE}.{name}").scan().count() for name in TABLES}


def snapshots(settings: StateLocations) -> dict[str, int | None]:
    catalog = get_catalog(settings)
    return {
        name: getattr(catalog.load_table(f"{RAW_NAMESPACE}.{name}").current_snapshot(), "snapshot_id", None)
        for name in TABLES
        if catalog.table_exists(f"{RAW_NAMESPACE}.{name}")
    }


def fail_file_writes(monkeypatch: pytest.MonkeyPatch, where: Callable[[str], bool], code: int) -> None:
    """The second file written where `where` holds fails with `code`, after writing a few bytes (what
    a disk that fills up in the middle of a file leaves)."""
    create = PyArrowFile.create
    seen: list[str] = []

    def failing_create(self: PyArrowFile, overwrite: bool = False) -> OutputStream:
        if where(self.location):
            seen.append(self.location)
            if len(seen) == 2:
                with create(self, overwrite=overwrite) as stream:
                    stream.write(b"PAR1")
                raise OSError(code, os.strerror(code), self.location.removeprefix("file://"))
        return create(self, overwrite=overwrite)

    monkeypatch.setattr(PyArrowFile, "create", failing_create)


def fail_catalog_commit(monkeypatch: pytest.MonkeyPatch, table: str, code: int, message: str) -> None:
    """The SQLite catalog refuses the commit of `table` as a full disk or a read-only file makes it."""
    commit_table = SqlCatalog.commit_table

    def failing_commit(self: SqlCatalog, table_to_commit: Table, *changes: Any) -> Any:
        if table_to_commit.name()[-1] == table:
            error = sqlite3.OperationalError(message)
            error.sqlite_errorcode = code
            raise OperationalError("UPDATE iceberg_tables SET metadata_location=?", (), error)
        return commit_table(self, table_to_commit, *changes)

    monkeypatch.setattr(SqlCatalog, "commit_table", failing_commit)


def filing_data_file(location: str) -> bool:
    return "/filing_chunks/data/" in location


def transcript_manifest(location: str) -> bool:
    return location.endswith(".avro") and "/transcript_chunks/" in location


# failure -> (how it is simulated, what the error says)
FAILURES: dict[str, tuple[Callable[[pytest.MonkeyPatch], None], str]] = {
    # the filing data files fail after the transcripts' were staged
    "disk-full-in-a-data-file": (
        lambda patch: fail_file_writes(patch, filing_data_file, errno.ENOSPC),
        "No space left on device; free space on its disk, then run again",
    ),
    "read-only-metadata": (
        lambda patch: fail_file_writes(patch, transcript_manifest, errno.EACCES),
        "Permission denied; make the warehouse and its catalog writable",
    ),
    # the transcripts committed, the filings' commit fails: the transcripts are rolled back
    "disk-full-in-the-catalog": (
        lambda patch: fail_catalog_commit(
            patch, FILING_CHUNKS, sqlite3.SQLITE_FULL, "database or disk is full"
        ),
        "catalog.db: database or disk is full; free space on its disk, then run again "
        "(rolled back raw.transcript_chunks)",
    ),
    "read-only-catalog": (
        lambda patch: fail_catalog_commit(
            patch, TRANSCRIPT_CHUNKS, sqlite3.SQLITE_READONLY, "attempt to write a readonly database"
        ),
        "catalog.db: attempt to write a readonly database; make the warehouse and its catalog writable",
    ),
}


@pytest.mark.parametrize("failure", FAILURES)
def test_a_write_that_fails_for_space_or_permission_is_a_clear_error_and_leaves_no_files(
    settings: StateLocations,
    demo_corpus: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    failure: str,
) -> None:
    simulate, message = FAILURES[failure]
    with monkeypatch.context() as patch:
        simulate(patch)
        exit_code = cli.main(["load", str(demo_corpus), "--quiet"])

    stderr = capsys.readouterr().err
    assert exit_code == 1
    assert stderr.startswith("load failed, nothing was committed: ")
    assert message in stderr
    assert f"{settings.warehouse}/" in stderr  # the path: the file, or the catalog in the warehouse
    assert "Traceback" not in stderr
    assert set(snapshots(settings).values()) <= {None}
    assert unreferenced_files(settings) == []

    assert cli.main(["load", str(demo_corpus), "--quiet"]) == 0
    assert chunk_counts(settings) == DEMO_CHUNKS
    assert unreferenced_files(settings) == []


def _run(command: list[str], env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, check=False)


def _load(corpus: Path) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "vectorfin", "load", str(corpus), "--quiet"], env=os.environ.copy())


@pytest.fixture
def tmpfs_warehouse(settings: StateLocations) -> Iterator[Path]:
    """The warehouse on a 64 KiB tmpfs: far less than the demo load needs (skipped where no tmpfs can be
    mounted, as without root)."""
    warehouse = Path(settings.warehouse)
    warehouse.mkdir(parents=True)
    mount = ["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(warehouse)]
    if not shutil.which("mount") or _run(mount).returncode != 0:
        pytest.skip("cannot mount a tmpfs here (needs root)")
    yield warehouse
    _run(["umount", "--lazy", str(warehouse)])  # this process may still hold the catalog open


def test_a_load_on_a_full_tmpfs_is_a_clear_error_and_the_next_load_completes(
    settings: StateLocations, demo_corpus: Path, tmpfs_warehouse: Path
) -> None:
    failed = _load(demo_corpus)

    assert failed.returncode == 1
    assert "No space left on device; free space on its disk, then run again" in failed.stderr
    assert str(tmpfs_warehouse) in failed.stderr
    assert "Traceback" not in failed.stderr
    assert unreferenced_files(settings) == []

    assert _run(["mount", "-o", "remount,size=8m", str(tmpfs_warehouse)]).returncode == 0
    assert _load(demo_corpus).returncode == 0
    assert chunk_counts(settings) == DEMO_CHUNKS
    assert unreferenced_files(settings) == []


def test_a_load_into_an_immutable_warehouse_is_a_clear_error(
    settings: StateLocations, demo_corpus: Path, tmp_path: Path
) -> None:
    assert _load(demo_corpus).returncode == 0
    committed = snapshots(settings)
    changed = Path(shutil.copytree(demo_corpus, tmp_path / "changed"))
    calls = changed / "transcripts/maec/calls.jsonl"
    calls.write_text(calls.read_text().replace('"call_date": "2023-04-20"', '"call_date": "2023-04-21"'))
    if not shutil.which("chattr") or _run(["chattr", "-R", "+i", settings.warehouse]).returncode != 0:
        pytest.skip("cannot make the warehouse immutable here (chattr needs root)")
    try:
        failed = _load(changed)
    finally:
        _run(["chattr", "-R", "-i", settings.warehouse])

    assert failed.returncode == 1
    assert f"load failed, nothing was committed: {settings.warehouse}/raw/" in failed.stderr
    assert "Operation not permitted; make the warehouse and its catalog writable" in failed.stderr
    assert "Traceback" not in failed.stderr
    assert snapshots(settings) == committed
    assert unreferenced_files(settings) == []
    assert _load(changed).returncode == 0
