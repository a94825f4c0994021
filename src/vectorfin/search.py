"""Search in SQL: the DuckDB functions the `semantic_search` macro calls, and the setting its index needs.

`vectorfin_embed(text, model_path)` returns the unit-length embedding of `text` as FLOAT[]. Its arguments
are constants in a search, and the function has no side effects, so DuckDB's optimizer folds the call
into a constant vector before the HNSW rewrite looks for `ORDER BY array_cosine_distance(column,
<constant>) LIMIT n`, and the vector index serves it. DuckDB evaluates that constant twice while
planning a search, so the last few queries' vectors are kept: a search embeds
its query once. The model is loaded on first use (and kept), so connections that never search never
import torch.

`vectorfin_rrf_score(dense_rank, keyword_rank, dense_weight)` is `vectorfin.fusion.rrf_score`, the
fusion rule the evaluation scores hybrids with.

`vectorfin_search_target(...)` checks, before a search runs, that there is a published run and that
`search_chunks` serves it whole with its full-text index (`search_target`), with one clear error per way
it can be wrong, and returns what the search's SQL needs (JSON).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import duckdb
from duckdb import DuckDBPyConnection

from vectorfin.fusion import RRF_FUNCTION, rrf_score_arrow

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBED_FUNCTION = "vectorfin_embed"
TARGET_FUNCTION = "vectorfin_search_target"
REBUILD_SEARCH_CHUNKS = " Rebuild it: `dbt run --select search_chunks`."
FIXED_SIZE_FLOAT_ARRAY = re.compile(r"FLOAT\[\d+\]")
EMBEDDING_CACHE_SIZE = 64  # query vectors kept (384 floats each): a search asks for its own twice


@lru_cache(maxsize=2)
def _model(model_path: str) -> SentenceTransformer:
    from vectorfin.ml.training import load_trained_model

    return load_trained_model(model_path)


@lru_cache(maxsize=EMBEDDING_CACHE_SIZE)
def query_embedding(text: str, model_path: str) -> tuple[float, ...]:
    return tuple(_model(model_path).encode(text, normalize_embeddings=True).tolist())


def embed_text(text: str, model_path: str) -> list[float]:
    return list(query_embedding(text, model_path))


class SearchTargetError(ValueError):
    """Nothing to search, or search_chunks does not serve the published run: says how to fix it."""


def _exists(cursor: DuckDBPyConnection, relation: str) -> bool:
    try:
        cursor.execute(f"select 1 from {relation} limit 0")
    except duckdb.CatalogException:
        return False
    return True


def published_run(cursor: DuckDBPyConnection, embeddings: str, training_runs: str) -> dict[str, Any]:
    """The run searches serve: the one whose vectors `embeddings` (chunk_embeddings) holds, published only
    once its regression check passed, so not always the latest training run."""
    if not _exists(cursor, embeddings):
        raise SearchTargetError(
            f"No embeddings to search: {embeddings} does not exist. Run `dbt build` first."
        )
    runs = cursor.execute(
        "select embeddings.model_run_id, any_value(runs.artifact_path), count(*)"
        f" from {embeddings} as embeddings left join {training_runs} as runs"
        " on embeddings.model_run_id = runs.run_id"
        " group by embeddings.model_run_id"
    ).fetchall()
    if not runs:
        raise SearchTargetError(
            f"No embeddings to search: {embeddings} is empty, so no run is published yet (a run is published"
            " when its regression check passes; see regression_check). Run `dbt build`."
        )
    if len(runs) > 1:
        raise SearchTargetError(
            f"{embeddings} holds {len(runs)} runs; it should hold the published run only. "
            "Rebuild it: `dbt run --select chunk_embeddings`."
        )
    [(run_id, artifact_path, chunks)] = runs
    if artifact_path is None:
        raise SearchTargetError(
            f"The published run {run_id} has no row in {training_runs}, so its model cannot embed the query."
        )
    return {"run_id": run_id, "artifact_path": artifact_path, "chunks": chunks}


def search_target(
    cursor: DuckDBPyConnection,
    embeddings: str,
    training_runs: str,
    search_chunks: str,
    fts_schema: str,
    filters: str,
) -> dict[str, Any]:
    """What a search reads, checked: `search_chunks` holds all of the published run's chunks, with its
    full-text index `fts_schema` and fixed-size vectors. Also counts the chunks the filters (SQL the
    macro built, every value quoted) keep, for the dense plan."""
    run = published_run(cursor, embeddings, training_runs)
    if not _exists(cursor, search_chunks):
        raise SearchTargetError(
            f"The search index {search_chunks} does not exist (it is built after chunk_embeddings)."
            + REBUILD_SEARCH_CHUNKS
        )
    served = cursor.execute(
        "select model_run_id, count(*), any_value(typeof(embedding)),"
        f" count(*) filter (where {filters or 'true'}), any_value(build_id)"
        f" from {search_chunks} group by model_run_id"
    ).fetchall()
    if len(served) != 1 or served[0][0] != run["run_id"] or served[0][1] != run["chunks"]:
        holds = ", ".join(f"{run_id} ({chunks} chunks)" for run_id, chunks, *_ in served) or "no chunks"
        raise SearchTargetError(
            f"The search index {search_chunks} is out of date: it holds {holds}, the published run is "
            f"{run['run_id']} ({run['chunks']} chunks)." + REBUILD_SEARCH_CHUNKS
        )
    [(_, chunks, vector_type, kept, build_id)] = served
    [(indexed,)] = cursor.execute(
        "select count(*) from duckdb_schemas() where schema_name = ?", [fts_schema]
    ).fetchall()
    if not indexed:
        raise SearchTargetError(
            f"{search_chunks} lacks its full-text index {fts_schema} (its post-hook builds it)."
            + REBUILD_SEARCH_CHUNKS
        )
    if not FIXED_SIZE_FLOAT_ARRAY.fullmatch(vector_type):
        raise SearchTargetError(
            f"{search_chunks}.embedding is {vector_type}; the HNSW index needs a fixed-size FLOAT array."
        )
    return {"run": run, "chunks": chunks, "kept": kept, "vector_type": vector_type, "build_id": build_id}


def register_search_functions(connection: DuckDBPyConnection) -> None:
    connection.create_function(EMBED_FUNCTION, embed_text, ["VARCHAR", "VARCHAR"], "FLOAT[]")

    def checked_target(
        embeddings: str, training_runs: str, search_chunks: str, fts_schema: str, filters: str
    ) -> str:
        # a cursor of its own: SQL cannot run on the connection whose query calls this function
        cursor = connection.cursor()
        try:
            checked = search_target(cursor, embeddings, training_runs, search_chunks, fts_schema, filters)
        finally:
            cursor.close()
        return json.dumps(checked)

    connection.create_function(TARGET_FUNCTION, checked_target, ["VARCHAR"] * 5, "VARCHAR", side_effects=True)
    connection.create_function(
        RRF_FUNCTION, rrf_score_arrow, ["DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE", type="arrow"
    )
