"""BM25 keyword scoring for the evaluation: "BM25 over these texts, score these queries". Served keyword
search is DuckDB's full-text index (`vectorfin.keyword_index`, other term rules);
benchmarks/keyword_search_parity.py measures how far apart the two rank.

Scoring is `bm25s` (sparse matrices, numpy backend, nothing downloaded), Lucene's variant of Okapi
BM25: idf = log(1 + (N - n + 0.5) / (n + 0.5)), never negative, times tf / (tf + k1 (1 - b + b |d| /
avgdl)). Classic Okapi multiplies the tf part by (k1 + 1); Lucene (since 8.0) and bm25s drop that
constant factor, which changes no ranking. Tokens are the project's own: lowercased runs of word
characters (`\\w+`, so "2%" gives "2", and one-character tokens such as a figure's digits count), no
stemming and no stop words; a query term counts once however often the query repeats it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import bm25s
import numpy as np

K1 = 1.5
B = 0.75
_TOKEN = re.compile(r"\w+")


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(text.lower())


class BM25Index:
    """BM25 over `texts`; `scores(queries)` gives a (queries x texts) matrix, 0 where nothing matches."""

    def __init__(self, texts: Sequence[str], k1: float = K1, b: float = B) -> None:
        self.n_texts = len(texts)
        tokenized = [tokenize(text) for text in texts]
        self._retriever: bm25s.BM25 | None = None
        if any(tokenized):  # bm25s needs a vocabulary: texts without a single token match nothing
            self._retriever = bm25s.BM25(k1=k1, b=b, method="lucene", dtype="float64")
            self._retriever.index(tokenized, show_progress=False)

    def scores(self, queries: Sequence[str]) -> np.ndarray:
        result = np.zeros((len(queries), self.n_texts))
        if self._retriever is None:
            return result
        for row, query in enumerate(queries):
            # Each distinct term once, in the query's order; terms the texts never use are left out.
            terms = self._retriever.get_tokens_ids(list(dict.fromkeys(tokenize(query))))
            if terms:
                result[row] = self._retriever.get_scores_from_ids(terms)
        return result
