"""Retrieval quality of dense models and BM25 on the same chunked corpus.

Documents longer than the model's window are split into chunks of whole words, at most
`max_seq_length` word pieces each (special tokens included); a document scores as its best
chunk. BM25 indexes exactly the same chunks, so every scorer sees the same text.

Metrics are trec_eval's own, through pytrec_eval: graded relevance as linear gain in NDCG, average
precision divided by the number of relevant documents (unretrieved ones count as misses), MRR@10 as
trec_eval's reciprocal rank of the top 10. The ranking handed to trec_eval is the project's: scores
strictly decrease with rank, so trec_eval's own tie-breaking (by document id) never reorders it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytrec_eval
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer, PreTrainedTokenizerBase

from vectorfin.bm25 import BM25Index
from vectorfin.fusion import RRF_K, rrf_score
from vectorfin.ml.config import TrainingConfig
from vectorfin.ml.progress import ProgressLog

METRICS = ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10", "map@100")
RANK_DEPTH = 100  # the deepest cut-off any metric looks at
DEFAULT_MAX_SEQ_LENGTH = 256
RESULT_COLUMNS = ["model", "model_run_id", "eval_set", "metric", "value", "n_queries"]
BM25_LABEL = "bm25"

# A scorer maps (query texts, chunk texts, a label for its progress lines) to a (queries x chunks)
# similarity matrix.
ChunkScorer = Callable[[list[str], list[str], str], np.ndarray]
ENCODE_SLICE_BATCHES = 8  # batches encoded per call between progress counts (length-sorted within a call)


# --- metrics: trec_eval through pytrec_eval -----------------------------------------------

# trec_eval measure -> this project's metric name; MRR@10 is computed on the top 10 alone.
_TREC_MEASURES = {
    "ndcg_cut_10": "ndcg@10",
    "recall_1": "recall@1",
    "recall_5": "recall@5",
    "recall_10": "recall@10",
    "map_cut_100": "map@100",
}
_TREC_MEASURE_PARAMETERS = {"ndcg_cut.10", "recall.1,5,10", "map_cut.100"}
MRR_DEPTH = 10


def ranking_metrics(
    rankings: Mapping[str, Sequence[str]], judgements: Mapping[str, Mapping[str, int]]
) -> dict[str, dict[str, float]]:
    """Per query, METRICS of its ranking (doc ids, best first) against its judgements (doc id -> grade).

    Every query of `rankings` gets every metric: one without a relevant document, or with an empty
    ranking, scores 0 (trec_eval leaves a query out of its results when it has no judgement at all).
    """
    qrels = {
        query: {doc_id: int(grade) for doc_id, grade in judgements.get(query, {}).items()}
        for query in rankings
    }
    run = {query: _trec_run(ranking) for query, ranking in rankings.items()}
    top = {query: _trec_run(ranking[:MRR_DEPTH]) for query, ranking in rankings.items()}
    measured = pytrec_eval.RelevanceEvaluator(qrels, _TREC_MEASURE_PARAMETERS).evaluate(run)
    reciprocal_ranks = pytrec_eval.RelevanceEvaluator(qrels, {"recip_rank"}).evaluate(top)
    metrics = {}
    for query in rankings:
        values = {name: measured.get(query, {}).get(measure, 0.0) for measure, name in _TREC_MEASURES.items()}
        values["mrr@10"] = reciprocal_ranks.get(query, {}).get("recip_rank", 0.0)
        metrics[query] = {metric: float(values[metric]) for metric in METRICS}
    return metrics


def _trec_run(ranking: Sequence[str]) -> dict[str, float]:
    """A ranking as trec_eval scores: strictly decreasing, so trec_eval keeps this exact order."""
    return {doc_id: float(len(ranking) - rank) for rank, doc_id in enumerate(ranking)}


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
    """Cosine similarity of normalized embeddings; logs its progress (texts encoded, rate, ETA)."""

    def score(queries: list[str], chunks: list[str], label: str) -> np.ndarray:
        progress = ProgressLog(label, len(queries) + len(chunks), "texts")
        return encode(model, queries, batch_size, progress) @ encode(model, chunks, batch_size, progress).T

    return score


def encode(
    model: SentenceTransformer, texts: list[str], batch_size: int, progress: ProgressLog
) -> np.ndarray:
    """Unit-length embeddings of `texts`, counted into `progress` a few batches at a time."""
    step = batch_size * ENCODE_SLICE_BATCHES
    parts = []
    for start in range(0, len(texts), step):
        part = texts[start : start + step]
        parts.append(
            model.encode(
                part,
                batch_size=batch_size,
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,  # progress goes to the log, with a rate and an ETA
            )
        )
        progress.advance(len(part))
    if not parts:
        return np.zeros((0, model.get_embedding_dimension()), dtype=np.float32)
    return np.concatenate(parts)


def bm25_scorer() -> ChunkScorer:
    """BM25 over the chunks (vectorfin.bm25, shared with search); fast enough to need no progress."""

    def score(queries: list[str], chunks: list[str], label: str) -> np.ndarray:
        return BM25Index(chunks).scores(queries)

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
    rankings = dict(zip(query_ids, rank_documents(doc_scores, doc_ids), strict=True))
    per_query = ranking_metrics(rankings, judgements)
    return {metric: float(np.mean([m[metric] for m in per_query.values()])) for metric in METRICS}


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
            label: document_scores(
                scorer(judged["query_text"].tolist(), chunks.texts, f"evaluation {eval_set} / {label}"),
                chunks,
            )
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


def sts_spearman(
    model: SentenceTransformer, pairs: pd.DataFrame, batch_size: int = 64, label: str = "evaluation stsb"
) -> float:
    """Spearman correlation of the cosine similarity of (sentence_1, sentence_2) with the gold score:
    the STS Benchmark's metric, here the guard against forgetting general language."""
    progress = ProgressLog(label, 2 * len(pairs), "texts")
    first = encode(model, pairs["sentence_1"].tolist(), batch_size, progress)
    second = encode(model, pairs["sentence_2"].tolist(), batch_size, progress)
    cosine = pd.Series((first * second).sum(axis=1))
    return float(cosine.corr(pd.Series(pairs["score"].to_numpy(dtype=float)), method="spearman"))


def _base_tokenizer() -> PreTrainedTokenizerBase:
    return AutoTokenizer.from_pretrained(TrainingConfig().resolved_base_model(), local_files_only=True)
