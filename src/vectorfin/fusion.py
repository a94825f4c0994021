"""Weighted reciprocal rank fusion: the one rule by which a dense and a keyword ranking are combined.

The evaluation (`vectorfin.ml.evaluation.reciprocal_rank_fusion`, over whole score matrices) and hybrid
search in SQL (the `semantic_search` macro, through the DuckDB function `vectorfin_rrf_score` the dbt
plugin registers) both call `rrf_score`, so the evaluated hybrid and the served one fuse the same way.
Light on purpose (numpy only): every dbt connection imports it.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa

RRF_K = 60  # the reciprocal rank fusion constant of Cormack et al. (2009)
RRF_FUNCTION = "vectorfin_rrf_score"


def rrf_score(
    dense_rank: np.ndarray | float,
    keyword_rank: np.ndarray | float,
    dense_weight: np.ndarray | float,
    k: int = RRF_K,
) -> np.ndarray | float:
    """w / (k + dense rank) + (1 - w) / (k + keyword rank), ranks from 1.

    Ranks, not raw scores, are fused: cosine similarities and BM25 scores live on unrelated scales. An
    infinite rank (a chunk one side did not return) adds nothing from that side. The weight matters:
    where keyword search is weak, an equal-weight fusion falls below dense alone.
    """
    return dense_weight / (k + dense_rank) + (1 - dense_weight) / (k + keyword_rank)


def rrf_score_arrow(dense_rank: pa.Array, keyword_rank: pa.Array, dense_weight: pa.Array) -> pa.Array:
    """`rrf_score` over Arrow columns: the body of the DuckDB function (one call per vector of rows)."""
    columns = (column.to_numpy(zero_copy_only=False) for column in (dense_rank, keyword_rank, dense_weight))
    return pa.array(rrf_score(*columns))
