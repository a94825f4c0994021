"""Retrieval quality of dense models and BM25 on the same chunked corpus.

Documents longer than the model's window are split into chunks of whole words, at most
`max_seq_length` word pieces each (special tokens included); a document scores as its best
chunk. BM25 indexes exactly the same chunks, so every scorer sees the same text.

Metric conventions follow trec_eval: graded relevance as linear gain in NDCG, and average
precision divided by the number of relevant documents (unretrieved ones count as misses).
"""

from __future__ import annotations

import math
import re
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from vectorfin.fusion import RRF_K, rrf_score
from vectorfin.ml.config import TrainingConfig

METRICS = ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10", "map@100")
RANK_DEPTH = 100  # the deepest cut-off any metric looks at
DEFAULT_MAX_SEQ_LENGTH = 256
RESULT_COLUMNS = ["model", "model_run_id", "eval_set", "metric", "value", "n_queries"]
BM25_LABEL = "bm25"

# A scorer maps (query texts, chunk texts) to a (queries x chunks) similarity matrix.
ChunkScorer = Callable[[list[str], list[str]], np.ndarray]


# --- metrics for one query: `ranked` doc ids best first, `relevance` doc id -> grade ---------


def ndcg_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    gains = [relevance.get(doc_id, 0) for doc_id in ranked[:k]]
    ideal = sorted((grade for grade in relevance.values() if grade > 0), reverse=True)[:k]
    ideal_dcg = _dcg(ideal)
    return _dcg(gains) / ideal_dcg if ideal_dcg else 0.0


def _dcg(gains: Sequence[int]) -> float:
    return sum(gain / math.log2(rank + 2) for rank, gain in enumerate(gains))


def mrr_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    return next(
        (1.0 / rank for rank, doc_id in enumerate(ranked[:k], 1) if relevance.get(doc_id, 0) > 0), 0.0
    )


def recall_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    relevant = {doc_id for doc_id, grade in relevance.items() if grade > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def average_precision_at_k(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    n_relevant = sum(1 for grade in relevance.values() if grade > 0)
    hits, precision_sum = 0, 0.0
    for rank, doc_id in enumerate(ranked[:k], 1):
        if relevance.get(doc_id, 0) > 0:
            hits += 1
            precision_sum += hits / rank
    return precision_sum / n_relevant if n_relevant else 0.0


def query_metrics(ranked: Sequence[str], relevance: Mapping[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": ndcg_at_k(ranked, relevance, 10),
        "mrr@10": mrr_at_k(ranked, relevance, 10),
        "recall@1": recall_at_k(ranked, relevance, 1),
        "recall@5": recall_at_k(ranked, relevance, 5),
        "recall@10": recall_at_k(ranked, relevance, 10),
        "map@100": average_precision_at_k(ranked, relevance, 100),
    }


# --- chunking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Chunks:
    """Chunk texts of a corpus, grouped by document: doc i owns texts[starts[i]:starts[i + 1]]."""

    doc_ids: list[str]
    texts: list[str]
    starts: np.ndarray


def split_into_chunks(text: str, tokenizer: PreTrainedTokenizerBase, max_tokens: int) -> list[str]:
    """Greedily pack whole words into chunks of at most `max_tokens` word pieces.

    Words are the tokenizer's own (BERT splits punctuation off: "2%" is two words). Cutting
    only between them means re-tokenizing a chunk gives the same pieces, so the model never
    truncates a chunk. A single word longer than the budget is cut.
    """
    encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    words: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for word_id, offsets in zip(encoding.word_ids(), encoding["offset_mapping"], strict=True):
        words[word_id].append(offsets)
    chunks: list[tuple[int, int]] = []  # (start char, end char)
    tokens_in_last_chunk = 0
    for pieces in words.values():
        for start in range(0, len(pieces), max_tokens):
            part = pieces[start : start + max_tokens]
            if chunks and start == 0 and tokens_in_last_chunk + len(part) <= max_tokens:
                chunks[-1] = (chunks[-1][0], part[-1][1])
                tokens_in_last_chunk += len(part)
            else:
                chunks.append((part[0][0], part[-1][1]))
                tokens_in_last_chunk = len(part)
    return [text[start:end] for start, end in chunks] or [text]


def chunk_corpus(
    doc_ids: Sequence[str], doc_texts: Sequence[str], tokenizer: PreTrainedTokenizerBase, max_seq_length: int
) -> Chunks:
    max_tokens = max_seq_length - tokenizer.num_special_tokens_to_add()
    texts: list[str] = []
    starts = [0]
    for text in doc_texts:
        texts.extend(split_into_chunks(text, tokenizer, max_tokens))
        starts.append(len(texts))
    return Chunks(doc_ids=list(doc_ids), texts=texts, starts=np.asarray(starts))


# --- scorers -----------------------------------------------------------------------------


def dense_scorer(model: SentenceTransformer, batch_size: int = 64) -> ChunkScorer:
    """Cosine similarity of normalized embeddings."""

    def score(queries: list[str], chunks: list[str]) -> np.ndarray:
        encode = {"batch_size": batch_size, "normalize_embeddings": True, "convert_to_numpy": True}
        return model.encode(queries, **encode) @ model.encode(chunks, **encode).T

    return score


def bm25_tokenize(text: str) -> list[str]:
    return re.findall(r"\w+", text.lower())


class BM25:
    """Okapi BM25 with the non-negative (Lucene) idf: log(1 + (N - n + 0.5) / (n + 0.5))."""

    def __init__(self, documents: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        tokenized = [bm25_tokenize(document) for document in documents]
        self.n_documents = len(tokenized)
        self.lengths = np.array([len(tokens) for tokens in tokenized], dtype=np.float64)
        average_length = self.lengths.mean() if self.n_documents and self.lengths.mean() else 1.0
        # Per-document part of the tf normalisation, computed once.
        self.length_norm = k1 * (1 - b + b * self.lengths / average_length)
        self.k1 = k1
        self.postings: dict[str, tuple[np.ndarray, np.ndarray]] = {}
        term_postings: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for index, tokens in enumerate(tokenized):
            for term, count in Counter(tokens).items():
                term_postings[term].append((index, count))
        for term, postings in term_postings.items():
            indices, counts = zip(*postings, strict=True)
            self.postings[term] = (np.array(indices), np.array(counts, dtype=np.float64))

    def idf(self, term: str) -> float:
        n = len(self.postings[term][0]) if term in self.postings else 0
        return math.log(1 + (self.n_documents - n + 0.5) / (n + 0.5))

    def scores(self, query: str) -> np.ndarray:
        result = np.zeros(self.n_documents)
        for term in set(bm25_tokenize(query)):
            if term not in self.postings:
                continue
            indices, counts = self.postings[term]
            result[indices] += self.idf(term) * counts * (self.k1 + 1) / (counts + self.length_norm[indices])
        return result


def bm25_scorer(k1: float = 1.5, b: float = 0.75) -> ChunkScorer:
    def score(queries: list[str], chunks: list[str]) -> np.ndarray:
        index = BM25(chunks, k1=k1, b=b)
        return np.vstack([index.scores(query) for query in queries])

    return score


# --- evaluation --------------------------------------------------------------------------


def document_scores(chunk_scores: np.ndarray, chunks: Chunks) -> np.ndarray:
    """(queries x documents): each document scored by its best chunk."""
    return np.maximum.reduceat(chunk_scores, chunks.starts[:-1], axis=1)


def rank_documents(
    doc_scores: np.ndarray, doc_ids: Sequence[str], depth: int = RANK_DEPTH
) -> list[list[str]]:
    """Per query, the top `depth` doc ids, best first."""
    # Stable sort on the negated scores: ties keep corpus order, so rankings are reproducible.
    order = np.argsort(-doc_scores, axis=1, kind="stable")[:, :depth]
    return [[doc_ids[index] for index in row] for row in order]


def reciprocal_rank_fusion(
    dense_scores: np.ndarray, keyword_scores: np.ndarray, dense_weight: float, k: int = RRF_K
) -> np.ndarray:
    """Weighted reciprocal rank fusion of two (queries x documents) score matrices, by the rule
    `vectorfin.fusion.rrf_score` (the one hybrid search in SQL serves)."""
    return rrf_score(_ranks(dense_scores), _ranks(keyword_scores), dense_weight, k)


def _ranks(scores: np.ndarray) -> np.ndarray:
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty_like(order)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1)[None, :], axis=1)
    return ranks


def set_metrics(
    doc_scores: np.ndarray, doc_ids: Sequence[str], query_ids: Sequence[str], judgements: Mapping[str, dict]
) -> dict[str, float]:
    """Mean metrics over a set's queries, from their (queries x documents) scores."""
    rankings = rank_documents(doc_scores, doc_ids)
    per_query = [
        query_metrics(ranking, judgements[query_id])
        for ranking, query_id in zip(rankings, query_ids, strict=True)
    ]
    return {metric: float(np.mean([m[metric] for m in per_query])) for metric in METRICS}


def evaluate_models(
    models: Mapping[str, SentenceTransformer | None],
    queries: pd.DataFrame,
    corpus: pd.DataFrame,
    qrels: pd.DataFrame,
    run_ids: Mapping[str, str] | None = None,
    max_seq_length: int | None = None,
    batch_size: int = 64,
    hybrid_dense_weight: float | None = None,
) -> pd.DataFrame:
    """Metrics of every model on every eval_set, long format (one row per model, set, metric).

    `models` maps a label ('base', 'tuned', ...) to a SentenceTransformer, or to None for BM25.
    With `hybrid_dense_weight`, every dense model is also fused with BM25 by weighted reciprocal
    rank (label '<model>+bm25'). `run_ids` gives each label's model_run_id (default: the label).
    Chunks are cut with the first dense model's tokenizer (the packaged base tokenizer when there
    is none) to the smallest window of the dense models, or `max_seq_length` when that is smaller.
    Only queries with a relevant document count.
    """
    dense = [model for model in models.values() if model is not None]
    limits = [model.max_seq_length for model in dense] + ([max_seq_length] if max_seq_length else [])
    window = min(limits) if limits else DEFAULT_MAX_SEQ_LENGTH
    tokenizer = dense[0].tokenizer if dense else _base_tokenizer()
    judgements = _judgements(qrels)
    scorers = {
        label: bm25_scorer() if model is None else dense_scorer(model, batch_size)
        for label, model in models.items()
    }
    if hybrid_dense_weight is not None:
        scorers.setdefault(BM25_LABEL, bm25_scorer())
    rows = []
    for eval_set, docs in corpus.groupby("eval_set", sort=True):
        set_queries = queries[queries["eval_set"] == eval_set]
        judged = set_queries[[(eval_set, query_id) in judgements for query_id in set_queries["query_id"]]]
        if judged.empty:
            continue
        chunks = chunk_corpus(
            docs["doc_id"].tolist(), docs["doc_text"].fillna("").tolist(), tokenizer, window
        )
        set_judgements = {query_id: judgements[(eval_set, query_id)] for query_id in judged["query_id"]}
        scores = {
            label: document_scores(scorer(judged["query_text"].tolist(), chunks.texts), chunks)
            for label, scorer in scorers.items()
        }
        results = {label: scores[label] for label in models}
        if hybrid_dense_weight is not None:
            for label, model in models.items():
                if model is not None:
                    results[f"{label}+{BM25_LABEL}"] = reciprocal_rank_fusion(
                        scores[label], scores[BM25_LABEL], hybrid_dense_weight
                    )
        for label, doc_scores in results.items():
            metrics = set_metrics(doc_scores, chunks.doc_ids, judged["query_id"].tolist(), set_judgements)
            rows.extend(
                {
                    "model": label,
                    "model_run_id": _run_id(label, run_ids),
                    "eval_set": eval_set,
                    "metric": metric,
                    "value": value,
                    "n_queries": len(judged),
                }
                for metric, value in metrics.items()
            )
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def _judgements(qrels: pd.DataFrame) -> dict[tuple[str, str], dict[str, int]]:
    relevant = qrels[qrels["relevance"] > 0]
    judgements: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for eval_set, query_id, doc_id, grade in relevant[
        ["eval_set", "query_id", "doc_id", "relevance"]
    ].itertuples(index=False):
        judgements[(eval_set, query_id)][doc_id] = int(grade)
    return judgements


def _run_id(label: str, run_ids: Mapping[str, str] | None) -> str:
    """A hybrid's run id joins its parts' ids: `<dense run>+bm25`."""
    parts = label.split("+")
    return "+".join((run_ids or {}).get(part, part) for part in parts)


def sts_spearman(model: SentenceTransformer, pairs: pd.DataFrame, batch_size: int = 64) -> float:
    """Spearman correlation of the cosine similarity of (sentence_1, sentence_2) with the gold score:
    the STS Benchmark's metric, here the guard against forgetting general language."""
    encode = {"batch_size": batch_size, "normalize_embeddings": True, "convert_to_numpy": True}
    first = model.encode(pairs["sentence_1"].tolist(), **encode)
    second = model.encode(pairs["sentence_2"].tolist(), **encode)
    cosine = pd.Series((first * second).sum(axis=1))
    return float(cosine.corr(pd.Series(pairs["score"].to_numpy(dtype=float)), method="spearman"))


def _base_tokenizer() -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(TrainingConfig().resolved_base_model(), local_files_only=True)
