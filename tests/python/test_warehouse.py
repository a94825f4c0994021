"""The local warehouse: settings, Iceberg tables, idempotent appends and DuckDB's iceberg_scan."""

from __future__ import annotations

import datetime as dt
import os
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pytest

from vectorfin import cli, duck
from vectorfin.config import PROJECT_ROOT
from vectorfin.config.locations import StateLocations
from vectorfin.dbt_workspace import DbtWorkspace, run_dbt
from vectorfin.iceberg import (
    RAW_NAMESPACE,
    TRANSCRIPT_CHUNKS,
    append_new_rows,
    ensure_raw_tables,
    get_catalog,
)


def _transcript_rows(table_schema: pa.Schema, ids_and_years: list[tuple[str, int]]) -> pa.Table:
    loaded_at = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    rows = [
        {field.name: None for field in table_schema}
        | {
            "chunk_id": chunk_id,
            "doc_id": "NRTH_q1_2021",
            "source_dataset": "speaker_turns",
            "ticker": "NRTH",
            "fiscal_period": f"{year}Q1",
            "chunk_idx": index,
            "chunk_text": f"Revenue grew {index} percent in {year}.",
            "knowledge_ts": dt.datetime(year, 6, 30),
            "ingested_at": loaded_at,
        }
        for index, (chunk_id, year) in enumerate(ids_and_years)
    ]
    return pa.Table.from_pylist(rows, schema=table_schema)


def test_every_path_follows_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("VECTORFIN_DUCKDB_PATH", str(tmp_path / "db.duckdb"))
    monkeypatch.setenv("VECTORFIN_ARTIFACTS", str(tmp_path / "artifacts"))
    monkeypatch.delenv("VECTORFIN_CATALOG_URI", raising=False)

    settings = StateLocations.from_env()

    assert settings.warehouse == str(tmp_path / "wh")
    assert settings.catalog_uri == f"sqlite:///{tmp_path}/wh/catalog.db"
    assert settings.duckdb_path == tmp_path / "db.duckdb"
    assert settings.artifacts_dir == tmp_path / "artifacts"
    assert settings.table_location("raw", "filing_chunks") == f"{tmp_path}/wh/raw/filing_chunks"


def test_a_duckdb_file_name_with_an_apostrophe_is_refused_before_the_cli_or_dbt_opens_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    refused = "the file name has an apostrophe, which dbt-duckdb's catalog queries cannot quote"
    database = tmp_path / "v it's.duckdb"
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", str(tmp_path / "wh"))
    monkeypatch.setenv("VECTORFIN_DUCKDB_PATH", str(database))

    assert cli.main(["init"]) == 2
    assert capsys.readouterr().err == (
        f"vectorfin init: VECTORFIN_DUCKDB_PATH {database}: {refused} (the database takes the file's "
        f"name); use a name without one, such as {tmp_path / 'v its.duckdb'}\n"
    )
    workspace = DbtWorkspace.create(tmp_path / "dbt", extra_env={"VECTORFIN_DUCKDB_PATH": str(database)})
    shown = run_dbt(["show", "--inline", "select 1 as x"], workspace.env)
    assert shown.returncode != 0
    assert refused in shown.stdout
    assert "Traceback" not in shown.stdout + shown.stderr
    assert not database.exists()

    # an apostrophe in a folder's name is no database name: accepted
    monkeypatch.setenv("VECTORFIN_DUCKDB_PATH", str(tmp_path / "Ann's" / "vectorfin.duckdb"))
    assert StateLocations.from_env().duckdb_path == tmp_path / "Ann's" / "vectorfin.duckdb"


def test_defaults_stay_inside_the_project(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in (
        "VECTORFIN_WAREHOUSE",
        "VECTORFIN_DUCKDB_PATH",
        "VECTORFIN_ARTIFACTS",
        "VECTORFIN_CATALOG_URI",
    ):
        monkeypatch.delenv(name, raising=False)

    settings = StateLocations.from_env()

    assert settings.warehouse == str(PROJECT_ROOT / "warehouse")
    assert settings.duckdb_path.parent == PROJECT_ROOT


def test_remote_warehouse_has_no_local_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VECTORFIN_WAREHOUSE", "gs://vectorfinancials-data/warehouse")
    monkeypatch.delenv("VECTORFIN_CATALOG_URI", raising=False)

    settings = StateLocations.from_env()

    assert not settings.is_local
    assert settings.catalog_uri is None
    assert settings.table_location("raw", "transcript_chunks") == (
        "gs://vectorfinancials-data/warehouse/raw/transcript_chunks"
    )


def test_appending_the_same_rows_twice_adds_nothing(settings: StateLocations) -> None:
    table = ensure_raw_tables(get_catalog(settings), settings)[TRANSCRIPT_CHUNKS]
    schema = table.schema().as_arrow()
    batch = _transcript_rows(schema, [("a", 2019), ("b", 2021), ("b", 2021)])

    assert append_new_rows(table, batch, key="chunk_id") == 2
    assert append_new_rows(table, batch, key="chunk_id") == 0
    grown = _transcript_rows(schema, [("a", 2019), ("c", 2022)])
    assert append_new_rows(table, grown, key="chunk_id") == 1
    assert sorted(table.scan().to_arrow().column("chunk_id").to_pylist()) == ["a", "b", "c"]


def test_iceberg_scan_reads_the_table_folder_point_in_time(settings: StateLocations) -> None:
    table = ensure_raw_tables(get_catalog(settings), settings)[TRANSCRIPT_CHUNKS]
    append_new_rows(
        table, _transcript_rows(table.schema().as_arrow(), [("old", 2018), ("new", 2021)]), key="chunk_id"
    )
    location = settings.table_location(RAW_NAMESPACE, TRANSCRIPT_CHUNKS)

    with duck.connect() as connection:
        rows = connection.sql(
            "select ticker, fiscal_period, chunk_idx, chunk_text "
            f"from iceberg_scan('{location}') where knowledge_ts >= '2020-01-01' "
            "order by ticker, fiscal_period, chunk_idx"
        ).fetchall()

    assert rows == [("NRTH", "2021Q1", 1, "Revenue grew 1 percent in 2021.")]


def test_reopening_the_catalog_sees_committed_tables(settings: StateLocations) -> None:
    ensure_raw_tables(get_catalog(settings), settings)

    reopened = get_catalog(settings)

    assert {name for _, name in reopened.list_tables(RAW_NAMESPACE)} == {"transcript_chunks", "filing_chunks"}


def test_cli_query_runs_sql_with_iceberg_loaded(settings: StateLocations) -> None:
    subprocess.run([sys.executable, "-m", "vectorfin", "init"], check=True, env=os.environ.copy())
    location = settings.table_location(RAW_NAMESPACE, TRANSCRIPT_CHUNKS)

    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "vectorfin",
            "query",
            f"select 4242 + count(*) as answer from iceberg_scan('{location}')",
        ],
        check=True,
        capture_output=True,
        text=True,
        env=os.environ.copy(),
    )

    assert "answer" in result.stdout
    assert "4242" in result.stdout
