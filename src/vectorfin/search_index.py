"""The file that holds semantic search's HNSW index, beside the warehouse's DuckDB file, never inside it.

DuckDB's vss extension keeps no proper write-ahead log for its index: a process killed after committing
one and before the checkpoint leaves a log that a read-only session cannot replay ("Could not write
file"), so no BI tool or `duckdb -readonly` could open the warehouse until a read-write session that
loads vss came by (docs/benchmarks.md#write-ahead-log-replay-after-a-kill). So the index lives in a file of
its own, `<warehouse file stem>.search_index.duckdb`, written whole and published by one rename: built in a
temporary file beside it, checkpointed, closed, flushed to disk, renamed over the old one. A reader (the
searches attach it read-only) sees the previous file or the whole new one; a build killed midway leaves
only its temporary file, which the next build removes. The warehouse file keeps the tables, the
full-text index and no custom index, so its log, if a kill leaves one, replays anywhere.

This module names the file, its tables and its index, reads its manifest, builds and publishes it;
macros/search/search_indexes.sql starts a build (a post-hook of search_chunks, or a search that finds the
file lost or stale) and attaches it. The dbt plugin registers the functions here as DuckDB
functions bound to the connection and its warehouse file. A build runs on a cursor of its own: its
statements commit and checkpoint by themselves, whatever transaction dbt holds open on the connection.
"""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
from duckdb import DuckDBPyConnection

from vectorfin.duck import sql_string
from vectorfin.files import publish_file

SUFFIX = ".search_index.duckdb"
BUILDING = ".building"
DATABASE = "search_index"  # the name searches attach the file under
VECTORS = "vectors"  # the chunks' vectors and filter columns, HNSW-indexed
MANIFEST = "manifest"  # one row: which build of search_chunks the file indexes
INDEX = "vectors_embedding_hnsw"
# what the file holds of each chunk: what dense search orders by and filters on
COLUMNS = "chunk_id, ticker, fiscal_period, knowledge_ts, embedding"
STATE_FUNCTION = "vectorfin_search_index"
BUILD_FUNCTION = "vectorfin_build_search_index"


def search_index_path(duckdb_path: str | Path) -> Path:
    path = Path(duckdb_path).resolve()
    return path.with_name(path.stem + SUFFIX)


def manifest(duckdb_path: str | Path) -> tuple[str, str]:
    """(problem, build_id): why the index file cannot serve searches as it is ('' when it opens and
    has its manifest: missing, or what DuckDB said), and the build of search_chunks it indexes. Read
    on a connection of its own, so that a stale file is never attached, and read, by the transaction
    that must then replace it."""
    path = search_index_path(duckdb_path)
    if not path.exists():
        return f"{path} does not exist", ""
    try:
        with duckdb.connect(str(path), read_only=True) as connection:
            [(build_id,)] = connection.execute(f"select build_id from {MANIFEST}").fetchall()
    except (duckdb.Error, ValueError) as error:
        return f"{path} cannot be read ({str(error).splitlines()[0]})", ""
    return "", build_id


def build(connection: DuckDBPyConnection, duckdb_path: str | Path, source: str) -> str:
    """Build the index file from the committed table `source` (search_chunks) and publish it: the
    chunks' vectors and filter columns (VECTORS), the HNSW index on them (cosine; the vss defaults M 16,
    ef_construction 128, ef_search 64), and the MANIFEST (which build of `source`, which run, how many
    chunks, the vector type). Written in a temporary file beside the published one, checkpointed and
    detached, then renamed over it; returns the published path. `source` is the relation the project's
    macro names, never a user's text."""
    building = _building_file(duckdb_path)
    into = f"{DATABASE}_building"
    cursor = connection.cursor()
    try:
        cursor.execute(f"attach {sql_string(str(building))} as {into}")
        cursor.execute(f"create table {into}.{VECTORS} as select {COLUMNS} from {source}")
        cursor.execute(
            f"create index {INDEX} on {into}.{VECTORS} using hnsw (embedding) with (metric = 'cosine')"
        )
        cursor.execute(
            f"create table {into}.{MANIFEST} as select any_value(build_id) as build_id, "
            "any_value(model_run_id) as model_run_id, count(*) as chunks, "
            f"any_value(typeof(embedding)) as vector_type, now() as built_at from {source}"
        )
        cursor.execute(f"checkpoint {into}")
    finally:
        cursor.execute(f"detach database if exists {into}")
        cursor.close()
    return _publish(duckdb_path, building)


def _building_file(duckdb_path: str | Path) -> Path:
    """The path to build the next index file in, after removing what earlier builds left (a build
    killed midway: its file and DuckDB's log of it). Builds of one warehouse never overlap: each holds
    the warehouse file's write lock."""
    path = search_index_path(duckdb_path)
    for leftover in path.parent.glob(f"{path.name}{BUILDING}*"):
        leftover.unlink()
    return path.with_name(path.name + BUILDING)


def _publish(duckdb_path: str | Path, building: Path) -> str:
    if Path(f"{building}.wal").exists():
        raise RuntimeError(f"{building} still has a write-ahead log: it was not checkpointed and detached")
    path = search_index_path(duckdb_path)
    publish_file(building, path)
    return str(path)


def state(duckdb_path: str | Path) -> str:
    """What the search macros need to know of the index file, as JSON: where it is, the names to read
    it by once attached, and its `problem` and `build_id` (see `manifest`)."""
    problem, build_id = manifest(duckdb_path)
    return json.dumps(
        {
            "file": str(search_index_path(duckdb_path)),
            "database": DATABASE,
            "vectors": f"{DATABASE}.{VECTORS}",
            "problem": problem,
            "build_id": build_id,
        }
    )


def attach(connection: DuckDBPyConnection, duckdb_path: str | Path) -> None:
    """Attach the published index file read-only, as the searches read it (for SQL a search compiled
    to, run on a connection of one's own)."""
    file = sql_string(str(search_index_path(duckdb_path)))
    connection.execute(f"attach if not exists {file} as {DATABASE} (read_only)")


def register_search_index_functions(connection: DuckDBPyConnection, duckdb_path: str | Path) -> None:
    """The functions the search macros call, bound to the warehouse file `duckdb_path`, and the vss
    setting without which `CREATE INDEX ... USING HNSW` refuses a table in a database file: safe for the
    index file, which is written once, checkpointed and never opened for writing again."""
    connection.execute("SET GLOBAL hnsw_enable_experimental_persistence = true")
    connection.create_function(STATE_FUNCTION, lambda: state(duckdb_path), [], "VARCHAR", side_effects=True)
    connection.create_function(
        BUILD_FUNCTION,
        lambda source: build(connection, duckdb_path, source),
        ["VARCHAR"],
        "VARCHAR",
        side_effects=True,
    )
