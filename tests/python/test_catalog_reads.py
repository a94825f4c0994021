"""dbt sources read what the Iceberg catalog says, whoever wrote it; builds can be pinned to snapshots."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from vectorfin.catalog_reads import read_table
from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.dbt_workspace import DEMO_CORPUS, DbtWorkspace, run_dbt
from vectorfin.iceberg import RAW_NAMESPACE, TRANSCRIPT_CHUNKS, TableNotInCatalogError, get_catalog

STAGING = ["run", "--select", "staging"]
TRANSCRIPTS = f"{RAW_NAMESPACE}.{TRANSCRIPT_CHUNKS}"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> DbtWorkspace:
    """The demo corpus loaded into a warehouse of its own (module scope: tests only add to it)."""
    workspace = DbtWorkspace.create(tmp_path_factory.mktemp("catalog_reads"))
    workspace.load_corpus(DEMO_CORPUS)
    return workspace


def _settings(monkeypatch: pytest.MonkeyPatch, workspace: DbtWorkspace) -> StateLocations:
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", workspace.env["VECTORFIN_WAREHOUSE"])
    monkeypatch.delenv("VECTORFIN_CATALOG_URI", raising=False)
    return StateLocations.from_env()


def _append_with_plain_pyiceberg(settings: StateLocations, count: int) -> int:
    """Another writer's append: plain pyiceberg, no version hint. Returns the new snapshot id."""
    table = get_catalog(settings).load_table(TRANSCRIPTS)
    rows = table.scan(limit=count).to_arrow()
    rows = rows.set_column(
        rows.schema.get_field_index("chunk_id"),
        "chunk_id",
        pa.array([f"written-elsewhere-{table.current_snapshot().snapshot_id}-{n}" for n in range(count)]),
    )
    table.append(rows.cast(table.schema().as_arrow()))
    return table.current_snapshot().snapshot_id


def _hinted_metadata(settings: StateLocations) -> str:
    metadata = Path(settings.table_location(RAW_NAMESPACE, TRANSCRIPT_CHUNKS)) / "metadata"
    return (metadata / "version-hint.text").read_text()


def _staged_rows(workspace: DbtWorkspace) -> int:
    return workspace.query("select count(*) from stg_raw__transcript_chunks")[0][0]


def _read(workspace: DbtWorkspace) -> tuple[int, bool]:
    return workspace.query(
        "select snapshot_id, pinned from stg_raw__snapshots_read where source_table = ?", [TRANSCRIPTS]
    )[0]


def test_staging_sees_an_append_by_another_writer_and_a_pin_ignores_it(
    workspace: DbtWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, workspace)
    loaded = get_catalog(settings).load_table(TRANSCRIPTS)
    loaded_rows, loaded_snapshot = loaded.scan().to_arrow().num_rows, loaded.current_snapshot().snapshot_id
    hint = _hinted_metadata(settings)

    appended_snapshot = _append_with_plain_pyiceberg(settings, count=3)

    assert _hinted_metadata(settings) == hint  # the folder still points at the loader's commit
    current = run_dbt(STAGING, workspace.env)
    assert current.ok, current.summary()
    assert _staged_rows(workspace) == loaded_rows + 3
    assert _read(workspace) == (appended_snapshot, False)

    pinned = run_dbt(STAGING, workspace.env, vars={"raw_snapshot_ids": {TRANSCRIPT_CHUNKS: loaded_snapshot}})
    assert pinned.ok, pinned.summary()
    assert _staged_rows(workspace) == loaded_rows
    assert _read(workspace) == (loaded_snapshot, True)
    assert workspace.query(
        "select pinned from stg_raw__snapshots_read where source_table = 'raw.filing_chunks'"
    ) == [(False,)]


@pytest.mark.parametrize(
    ("pins", "error", "message"),
    [
        (
            {TRANSCRIPT_CHUNKS: 12345},
            TableNotInCatalogError,
            "table raw.transcript_chunks has no snapshot 12345",
        ),
        ({"transcript_chunk": 1}, ValueError, "var raw_snapshot_ids names tables catalog 'vectorfin'"),
        (
            {TRANSCRIPT_CHUNKS: "latest"},
            ValueError,
            "transcript_chunks must be a positive snapshot id, got 'latest'",
        ),
        ([12345], ValueError, "var raw_snapshot_ids must map table names to snapshot ids"),
    ],
)
def test_a_bad_pin_is_refused_with_a_clear_message(
    workspace: DbtWorkspace, monkeypatch: pytest.MonkeyPatch, pins: object, error: type, message: str
) -> None:
    _settings(monkeypatch, workspace)

    with pytest.raises(error, match=re.escape(message)):
        read_table(RAW_NAMESPACE, TRANSCRIPT_CHUNKS, json.dumps(pins), invocation_id="test")


def test_a_table_the_catalog_does_not_know_fails_naming_catalog_and_table(tmp_path: Path) -> None:
    empty = DbtWorkspace.create(tmp_path)

    result = run_dbt(["run", "--select", "stg_raw__transcript_chunks"], empty.env)

    assert not result.ok
    warehouse = empty.env["VECTORFIN_WAREHOUSE"]
    assert f"catalog 'vectorfin' (warehouse {warehouse}) has no table raw.transcript_chunks" in result.stdout


def test_cli_query_reads_the_catalog_tables_by_name(
    workspace: DbtWorkspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = _settings(monkeypatch, workspace)
    _append_with_plain_pyiceberg(settings, count=1)
    expected = get_catalog(settings).load_table(TRANSCRIPTS).scan().to_arrow().num_rows

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vectorfin",
            "query",
            f"select 1000000 + count(*) as answer from {TRANSCRIPTS}",
        ],
        cwd=PROJECT_ROOT,
        env=os.environ.copy(),
        capture_output=True,
        text=True,
        check=True,
    )

    assert str(1_000_000 + expected) in result.stdout
