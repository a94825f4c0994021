"""Semantic search in SQL: a DuckDB function that embeds a query text with a trained model.

`vectorfin_embed(text, model_path)` returns the unit-length embedding of `text` as FLOAT[]; the
`semantic_search` dbt macro compares it with `chunk_embeddings` by cosine similarity. The model
is loaded on first use (and kept), so connections that never search never import torch.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from duckdb import DuckDBPyConnection

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

EMBED_FUNCTION = "vectorfin_embed"


@lru_cache(maxsize=2)
def _model(model_path: str) -> SentenceTransformer:
    from vectorfin.ml.training import load_trained_model

    return load_trained_model(model_path)


def embed_text(text: str, model_path: str) -> list[float]:
    return _model(model_path).encode(text, normalize_embeddings=True).tolist()


def register_embed_function(connection: DuckDBPyConnection) -> None:
    connection.create_function(EMBED_FUNCTION, embed_text, ["VARCHAR", "VARCHAR"], "FLOAT[]")
