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
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from duckdb import DuckDBPyConnection

from vectorfin.fusion import RRF_FUNCTION, rrf_score_arrow

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBED_FUNCTION = "vectorfin_embed"
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


def register_search_functions(connection: DuckDBPyConnection) -> None:
    connection.create_function(EMBED_FUNCTION, embed_text, ["VARCHAR", "VARCHAR"], "FLOAT[]")
    connection.create_function(
        RRF_FUNCTION, rrf_score_arrow, ["DOUBLE", "DOUBLE", "DOUBLE"], "DOUBLE", type="arrow"
    )
