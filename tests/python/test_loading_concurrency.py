"""Loads at the same time, schema drift and failed commits: never duplicated, never half committed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from pyiceberg.expressions import EqualTo
from pyiceberg.types import StringType

from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.iceberg import FILING_CHUNKS, RAW_NAMESPACE, TRANSCRIPT_CHUNKS, ensure_raw_tables, get_catalog
from vectorfin.loading import LoadError, load_corpus
from vectorfin.loading.loader import DocumentReplacement, chunk_rows, commit_changes, stage_changes
from vectorfin.loading.readers import read_corpora

TABLES = (TRANSCRIPT_CHUNKS, FILING_CHUNKS)
LOADERS_PER_TRIAL = 3


def _table(settings: StateLocations, name: str) -> pa.Table:
    return get_catalog(settings).load_table(f"{RAW_NAMESPACE}.{name}").scan().to_arrow()


def _snapshots(settings: StateLocations) -> dict[str, int | None]:
    catalog = get_catalog(settings)
    return {
        name: getattr(catalog.load_table(f"{RAW_NAMESPACE}.{name}").current_snapshot(), "snapshot_id", None)
        for name in TABLES
    }


def _start_loader(corpus: Path, env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "vectorfin", "load", str(corpus), "--quiet"],
        cwd=PROJECT_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


@pytest.mark.parametrize("tables_exist", [False, True], ids=["no-tables", "after-init"])
def test_loads_started_together_add_every_chunk_once(
    settings: StateLocations, demo_corpus: Path, tables_exist: bool
) -> None:
    env = os.environ.copy()
    if tables_exist:
        subprocess.run([sys.executable, "-m", "vectorfin", "init"], check=True, env=env, capture_output=True)

    loaders = [_start_loader(demo_corpus, env) for _ in range(LOADERS_PER_TRIAL)]
    outputs = [loader.communicate(timeout=600) for loader in loaders]

    assert [loader.returncode for loader in loaders] == [0] * LOADERS_PER_TRIAL, outputs
    for name in TABLES:
        chunk_ids = _table(settings, name)["chunk_id"].to_pylist()
        added = sum(
            int(line.split(": ")[1].split()[0])
            for stdout, _ in outputs
            for line in stdout.splitlines()
            if line.startswith(f"{RAW_NAMESPACE}.{name}:")
        )
        assert len(chunk_ids) == len(set(chunk_ids)) == added > 0


def _changed_corpus(demo_corpus: Path, root: Path) -> Path:
    """The demo corpus with one MAEC call's date and the first 10-K's ticker corrected."""
    corpus = Path(shutil.copytree(demo_corpus, root / "corpus", ignore=shutil.ignore_patterns("*.md")))
    for relative, field, value in [
        ("transcripts/maec/calls.jsonl", "call_date", "2023-04-21"),
        ("filings/edgar_10k/filings_10k.jsonl", "ticker", "NRTHF"),
    ]:
        records = [json.loads(line) for line in (corpus / relative).read_text().splitlines()]
        records[0][field] = value
        (corpus / relative).write_text("".join(json.dumps(record) + "\n" for record in records))
    return corpus


def _planned_load(corpus: Path, settings: StateLocations) -> tuple[dict, dict]:
    """A load of `corpus` read, chunked and staged (data files written), not committed."""
    rows = chunk_rows(read_corpora([corpus]).documents, token_budget=256, progress=False)
    tables = ensure_raw_tables(get_catalog(settings), settings)
    planners = {name: DocumentReplacement(table_rows) for name, table_rows in rows.items()}
    return stage_changes(tables, planners), planners


def test_a_load_planned_before_another_committed_plans_again(
    settings: StateLocations, demo_corpus: Path, tmp_path: Path
) -> None:
    changed = _changed_corpus(demo_corpus, tmp_path)
    load_corpus([demo_corpus], progress=False)
    staged, planners = _planned_load(changed, settings)  # plans to replace two documents

    load_corpus([changed], progress=False)  # ... which another load replaces first
    commit_changes(staged, planners)

    for name in TABLES:
        chunk_ids = _table(settings, name)["chunk_id"].to_pylist()
        assert len(chunk_ids) == len(set(chunk_ids))
        assert planners[name].result.unchanged_documents > 0
        assert planners[name].result.added_chunks == 0  # re-planned on the winner's snapshot


def test_schema_drift_is_reported_by_table_and_column_before_anything_is_written(
    settings: StateLocations, demo_corpus: Path, tmp_path: Path
) -> None:
    load_corpus([demo_corpus], progress=False)
    filings = get_catalog(settings).load_table(f"{RAW_NAMESPACE}.{FILING_CHUNKS}")
    with filings.update_schema() as update:
        update.add_column("analyst_note", StringType())
    snapshots = _snapshots(settings)

    with pytest.raises(LoadError, match=r"raw\.filing_chunks: column 'analyst_note' \(string\)"):
        load_corpus([_changed_corpus(demo_corpus, tmp_path)], progress=False)

    assert _snapshots(settings) == snapshots


def test_a_failed_commit_rolls_back_the_tables_committed_before_it(
    settings: StateLocations, demo_corpus: Path, tmp_path: Path
) -> None:
    load_corpus([demo_corpus], progress=False)
    snapshots = _snapshots(settings)
    transcripts = _table(settings, TRANSCRIPT_CHUNKS)
    staged, planners = _planned_load(_changed_corpus(demo_corpus, tmp_path), settings)
    # Meanwhile another writer adds a column to the filings and deletes a document from them: the
    # load's filing commit loses the race, and its new plan meets the drifted schema.
    filings = get_catalog(settings).load_table(f"{RAW_NAMESPACE}.{FILING_CHUNKS}")
    with filings.update_schema() as update:
        update.add_column("analyst_note", StringType())
    filings.delete(EqualTo("doc_id", "CALD_2024_8K_dated-2024-03-12"))
    filing_snapshot = filings.current_snapshot().snapshot_id

    with pytest.raises(LoadError, match="column 'analyst_note'") as raised:
        commit_changes(staged, planners)

    assert "rolled back raw.transcript_chunks" in str(raised.value)
    assert raised.value.kept == []
    assert _snapshots(settings) == {
        TRANSCRIPT_CHUNKS: snapshots[TRANSCRIPT_CHUNKS],
        FILING_CHUNKS: filing_snapshot,
    }
    assert _table(settings, TRANSCRIPT_CHUNKS).sort_by("chunk_id").equals(transcripts.sort_by("chunk_id"))
