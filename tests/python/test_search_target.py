"""The checks a search runs before its SQL (vectorfin.search.search_target), one per way the published run
or search_chunks can be wrong, on a small in-memory DuckDB database: real tables, the real full-text
index statement. test_semantic_search.py runs them through dbt on the trained demo."""

from __future__ import annotations

import json
from collections.abc import Iterator

import duckdb
import pytest

from vectorfin import keyword_index
from vectorfin.duck import load_extensions
from vectorfin.search import SearchTargetError, register_search_functions, search_target

FTS_SCHEMA = "fts_main_search_chunks"
RELATIONS = ("main.chunk_embeddings", "main.training_runs", "main.search_chunks", FTS_SCHEMA)


@pytest.fixture
def warehouse() -> Iterator[duckdb.DuckDBPyConnection]:
    """A published run r1 of three chunks, served whole by search_chunks with its full-text index."""
    with duckdb.connect() as connection:
        load_extensions(connection)
        connection.execute(
            "create table training_runs as select 'r1' as run_id, '/models/r1' as artifact_path"
        )
        connection.execute(
            "create table chunk_embeddings as select 'r1' as model_run_id, 'c' || range as chunk_id"
            " from range(3)"
        )
        connection.execute(
            "create table search_chunks as select 'r1' as model_run_id, 'c' || range as chunk_id,"
            " 'chunk text ' || range as chunk_text, ['ACME', 'ACME', 'BETA'][range + 1] as ticker,"
            " [0.1, 0.2, 0.3]::float[3] as embedding, 'build-1' as build_id from range(3)"
        )
        connection.execute(keyword_index.create_index_sql("main.search_chunks", "chunk_id", "chunk_text"))
        yield connection


def target(connection: duckdb.DuckDBPyConnection, filters: str = "") -> dict:
    return search_target(connection, *RELATIONS, filters)


def test_a_served_run_gives_what_the_search_needs(warehouse: duckdb.DuckDBPyConnection) -> None:
    checked = target(warehouse, "ticker in ('ACME')")

    assert checked == {
        "run": {"run_id": "r1", "artifact_path": "/models/r1", "chunks": 3},
        "chunks": 3,
        "kept": 2,
        "vector_type": "FLOAT[3]",
        "build_id": "build-1",
    }


@pytest.mark.parametrize(
    ("statements", "message"),
    [
        (["drop table chunk_embeddings"], "No embeddings to search: main.chunk_embeddings does not exist"),
        (["delete from chunk_embeddings"], "no run is published yet"),
        (
            ["insert into chunk_embeddings values ('r2', 'c9')"],
            "main.chunk_embeddings holds 2 runs; it should hold the published run only",
        ),
        (["delete from training_runs"], "The published run r1 has no row in main.training_runs"),
        (["drop table search_chunks cascade"], "The search index main.search_chunks does not exist"),
        (
            ["delete from search_chunks where chunk_id = 'c2'"],
            "is out of date: it holds r1 (2 chunks), the published run is r1 (3 chunks)",
        ),
        (["drop schema fts_main_search_chunks cascade"], "lacks its full-text index fts_main_search_chunks"),
        (
            [
                "create or replace table search_chunks as select * replace (embedding::float[] as embedding)"
                " from search_chunks"
            ],
            "the HNSW index needs a fixed-size FLOAT array",
        ),
    ],
)
def test_each_wrong_state_is_a_clear_error(
    warehouse: duckdb.DuckDBPyConnection, statements: list[str], message: str
) -> None:
    for statement in statements:
        warehouse.execute(statement)

    with pytest.raises(SearchTargetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        target(warehouse)


def test_the_duckdb_function_checks_on_a_cursor_of_its_own(warehouse: duckdb.DuckDBPyConnection) -> None:
    register_search_functions(warehouse)
    arguments = ", ".join(f"'{value}'" for value in (*RELATIONS, ""))

    [(checked,)] = warehouse.execute(f"select vectorfin_search_target({arguments})").fetchall()
    warehouse.execute("delete from chunk_embeddings")

    assert json.loads(checked)["run"]["run_id"] == "r1"
    with pytest.raises(duckdb.Error, match="no run is published yet"):
        warehouse.execute(f"select vectorfin_search_target({arguments})").fetchall()
