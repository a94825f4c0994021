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
from vectorfin.config.training import TrainingConfig
from vectorfin.fusion import RRF_K, rrf_score
from vectorfin.ml.intervals import paired_bootstrap_interval
from vectorfin.ml.labels import BASE_LABEL, BM25_LABEL, EVAL_PARTS, TUNE_PART
from vectorfin.ml.progress import ProgressLog

METRICS = ("ndcg@10", "mrr@10", "recall@1", "recall@5", "recall@10", "map@100")
RANK_DEPTH = 100  # the deepest cut-off any metric looks at
RESULT_COLUMNS = [
    "model",
    "model_run_id",
    "eval_set",
    "eval_part",
    "metric",
    "value",
    "n_queries",
    "dense_weight",
    "vs_base",
    "vs_base_ci_low",
    "vs_base_ci_high",
]
# One row per (model, eval set, query, metric): what two runs are compared on query by query (run_comparison).
QUERY_VALUE_COLUMNS = ["model", "model_run_id", "eval_set", "eval_part", "query_id", "metric", "value"]
SELECTION_METRIC = "ndcg@10"  # what a choice made on the tune part (the fusion weight) maximises
# Fusion weights tried on each set's tune part when var hybrid_dense_weight is null: 0 is BM25's ranking
# alone, 1 the dense model's, so the chosen hybrid is at least as good as the better side on that part.
FUSION_WEIGHT_GRID = tuple(step / 10 for step in range(11))
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


# --- encoding ----------------------------------------------------------------------------


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


# --- evaluation --------------------------------------------------------------------------


def document_scores(chunk_scores: np.ndarray, chunks: Chunks) -> np.ndarray:
    """(queries x documents): each document scored by its best chunk."""
    return np.maximum.reduceat(chunk_scores, chunks.starts[:-1], axis=1)


def rank_documents(
    doc_scores: np.ndarray, doc_ids: Sequence[str], depth: int = RANK_DEPTH
) -> list[list[str]]:
    """Per query, the top `depth` doc ids, best first; ties keep corpus order, so rankings are
    reproducible. Exactly a stable sort's top `depth`, without sorting every document: only those
    scoring at least the `depth`-th best score are ordered."""
    if doc_scores.shape[1] <= depth:
        order = np.argsort(-doc_scores, axis=1, kind="stable")
        return [[doc_ids[index] for index in row] for row in order]
    thresholds = -np.partition(-doc_scores, depth - 1, axis=1)[:, depth - 1]
    rankings = []
    for row, threshold in zip(doc_scores, thresholds, strict=True):
        candidates = np.flatnonzero(row >= threshold)
        best_first = candidates[np.lexsort((candidates, -row[candidates]))][:depth]
        rankings.append([doc_ids[index] for index in best_first])
    return rankings


def reciprocal_rank_fusion(
    dense_scores: np.ndarray, keyword_scores: np.ndarray, dense_weight: float, k: int = RRF_K
) -> np.ndarray:
    """Weighted reciprocal rank fusion of two (queries x documents) score matrices, by the rule
    `vectorfin.fusion.rrf_score` (the one hybrid search in SQL serves)."""
    return rrf_score(_ranks(dense_scores), _ranks(keyword_scores), dense_weight, k)


def _ranks(scores: np.ndarray) -> np.ndarray:
    """Each document's rank per query (1 = best), float32: exact for any corpus under 16 M documents,
    and half the memory of integer ranks on a whole company's text."""
    order = np.argsort(-scores, axis=1, kind="stable")
    ranks = np.empty(scores.shape, dtype=np.float32)
    np.put_along_axis(ranks, order, np.arange(1, scores.shape[1] + 1, dtype=np.float32)[None, :], axis=1)
    return ranks


def query_metrics(
    doc_scores: np.ndarray, doc_ids: Sequence[str], query_ids: Sequence[str], judgements: Mapping[str, dict]
) -> dict[str, np.ndarray]:
    """Per metric, the value of each query (in `query_ids` order) from their (queries x documents) scores."""
    rankings = dict(zip(query_ids, rank_documents(doc_scores, doc_ids), strict=True))
    per_query = ranking_metrics(rankings, judgements)
    return {metric: np.array([per_query[query][metric] for query in query_ids]) for metric in METRICS}


def set_metrics(
    doc_scores: np.ndarray, doc_ids: Sequence[str], query_ids: Sequence[str], judgements: Mapping[str, dict]
) -> dict[str, float]:
    """Mean metrics over a set's queries, from their (queries x documents) scores."""
    values = query_metrics(doc_scores, doc_ids, query_ids, judgements)
    return {metric: float(np.mean(values[metric])) for metric in METRICS}


def truncated(embeddings: np.ndarray, dims: int) -> np.ndarray:
    """The first `dims` dimensions of unit vectors, made unit length again (a Matryoshka prefix)."""
    prefix = embeddings[:, :dims]
    norms = np.linalg.norm(prefix, axis=1, keepdims=True)
    return prefix / np.where(norms == 0, 1, norms)


def chosen_fusion_weight(
    dense_ranks: np.ndarray,
    keyword_ranks: np.ndarray,
    tune_rows: np.ndarray,
    weights: Sequence[float],
    score: Callable[[np.ndarray], float],
) -> float:
    """The weight of `weights` whose fusion scores best (by `score`, over the tune rows alone); ties,
    and a set without tune queries, go to the weight nearest an even fusion (0.5)."""
    if len(weights) == 1 or not tune_rows.any():
        return min(weights, key=lambda weight: abs(weight - 0.5))
    dense, keyword = dense_ranks[tune_rows], keyword_ranks[tune_rows]
    return max(weights, key=lambda weight: (score(rrf_score(dense, keyword, weight)), -abs(weight - 0.5)))


@dataclass(frozen=True)
class Evaluation:
    metrics: pd.DataFrame  # RESULT_COLUMNS
    query_values: pd.DataFrame  # QUERY_VALUE_COLUMNS, for the labels asked (evaluate_models' query_values_of)


def evaluate_models(
    models: Mapping[str, SentenceTransformer | None],
    queries: pd.DataFrame,
    corpus: pd.DataFrame,
    qrels: pd.DataFrame,
    run_ids: Mapping[str, str] | None = None,
    max_seq_length: int | None = None,
    batch_size: int = 64,
    fusion_weights: Sequence[float] = (),
    truncated_dims: Mapping[str, Sequence[int]] | None = None,
    query_values_of: Sequence[str] = (),
) -> Evaluation:
    """Metrics of every model on every eval set and part, long format (one row per model, set, part, metric),
    and each query's value of every metric for the labels in `query_values_of`.

    `models` maps a label ('base', 'tuned', ...) to a SentenceTransformer, or to None for BM25.
    `queries` carries each query's `eval_part` (EVAL_PARTS): metrics are averaged per part, over the
    same ranking of the whole set's corpus. With `fusion_weights`, every dense model is also fused
    with BM25 by weighted reciprocal rank (label '<model>+bm25'), at the weight of `fusion_weights` that
    scores best on the set's tune part (one weight: that one). `truncated_dims` maps a dense label to
    Matryoshka prefixes to score too (label '<model>@<dims>'). `run_ids` gives each label's model_run_id
    (default: the label). Every row but the base model's carries the paired difference from the base
    model on the same queries and its bootstrap interval. Chunks are cut with the first dense model's
    tokenizer (the packaged base tokenizer when there is none) to the smallest window of the dense
    models, or `max_seq_length` when that is smaller. Only queries with a relevant document count.
    """
    dense = [model for model in models.values() if model is not None]
    limits = [model.max_seq_length for model in dense] + ([max_seq_length] if max_seq_length else [])
    window = min(limits) if limits else TrainingConfig().max_seq_length
    tokenizer = dense[0].tokenizer if dense else _base_tokenizer()
    judgements = _judgements(qrels)
    _check_parts(queries)
    rows, query_rows = [], []
    for eval_set, docs in corpus.groupby("eval_set", sort=True):
        set_queries = queries[queries["eval_set"] == eval_set]
        judged = set_queries[[(eval_set, query_id) in judgements for query_id in set_queries["query_id"]]]
        if judged.empty:
            continue
        chunks = chunk_corpus(
            docs["doc_id"].tolist(), docs["doc_text"].fillna("").tolist(), tokenizer, window
        )
        scored = _SetScoring(
            chunks,
            judged["query_id"].tolist(),
            {query_id: judgements[(eval_set, query_id)] for query_id in judged["query_id"]},
            judged["eval_part"].to_numpy() == TUNE_PART,
        )
        query_texts = judged["query_text"].tolist()
        keyword_ranks = None
        if BM25_LABEL in models or fusion_weights:
            keyword = document_scores(BM25Index(chunks.texts).scores(query_texts), chunks)
            scored.add(BM25_LABEL, keyword)
            keyword_ranks = _ranks(keyword) if fusion_weights else None
            del keyword
        for label, model in models.items():
            if model is None:
                continue
            progress = ProgressLog(
                f"evaluation {eval_set} / {label}", len(query_texts) + len(chunks.texts), "texts"
            )
            query_vectors = encode(model, query_texts, batch_size, progress)
            chunk_vectors = encode(model, chunks.texts, batch_size, progress)
            full = document_scores(query_vectors @ chunk_vectors.T, chunks)
            scored.add(label, full)
            if keyword_ranks is not None:
                dense_ranks = _ranks(full)
                weight = chosen_fusion_weight(
                    dense_ranks, keyword_ranks, scored.tune_rows, fusion_weights, scored.tune_ndcg
                )
                scored.add(f"{label}+{BM25_LABEL}", rrf_score(dense_ranks, keyword_ranks, weight), weight)
                del dense_ranks
            del full
            for dims in (truncated_dims or {}).get(label, ()):
                prefix_scores = truncated(query_vectors, dims) @ truncated(chunk_vectors, dims).T
                scored.add(f"{label}@{dims}", document_scores(prefix_scores, chunks))
        parts = judged["eval_part"].to_numpy()
        rows.extend(scored.rows(eval_set, parts, lambda label: _run_id(label, run_ids)))
        query_rows.extend(
            scored.query_rows(eval_set, parts, query_values_of, lambda label: _run_id(label, run_ids))
        )
    return Evaluation(
        pd.DataFrame(rows, columns=RESULT_COLUMNS), pd.DataFrame(query_rows, columns=QUERY_VALUE_COLUMNS)
    )


class _SetScoring:
    """Per-query metrics of each scorer on one eval set, and their means per part."""

    def __init__(
        self, chunks: Chunks, query_ids: list[str], judgements: Mapping[str, dict], tune_rows: np.ndarray
    ) -> None:
        self.chunks, self.query_ids, self.judgements, self.tune_rows = (
            chunks,
            query_ids,
            judgements,
            tune_rows,
        )
        # the queries a weight is chosen on, in the order of the tune rows' scores
        self.tune_ids = [query for query, tune in zip(query_ids, tune_rows, strict=True) if tune]
        self.values: dict[str, dict[str, np.ndarray]] = {}
        self.weights: dict[str, float] = {}

    def add(self, label: str, doc_scores: np.ndarray, dense_weight: float | None = None) -> None:
        self.values[label] = query_metrics(doc_scores, self.chunks.doc_ids, self.query_ids, self.judgements)
        if dense_weight is not None:
            self.weights[label] = dense_weight

    def tune_ndcg(self, doc_scores: np.ndarray) -> float:
        """Mean NDCG@10 of the tune queries, from their (tune queries x documents) scores."""
        return set_metrics(doc_scores, self.chunks.doc_ids, self.tune_ids, self.judgements)[SELECTION_METRIC]

    def rows(self, eval_set: str, parts: np.ndarray, run_id: Callable[[str], str]) -> list[dict]:
        rows = []
        for label, values in self.values.items():
            for part in EVAL_PARTS:
                in_part = parts == part
                if not in_part.any():
                    continue
                for metric in METRICS:
                    part_values = values[metric][in_part]
                    row = {
                        "model": label,
                        "model_run_id": run_id(label),
                        "eval_set": eval_set,
                        "eval_part": part,
                        "metric": metric,
                        "value": float(part_values.mean()),
                        "n_queries": int(in_part.sum()),
                        "dense_weight": self.weights.get(label),
                        "vs_base": None,
                        "vs_base_ci_low": None,
                        "vs_base_ci_high": None,
                    }
                    if BASE_LABEL in self.values and label != BASE_LABEL:
                        base_values = self.values[BASE_LABEL][metric][in_part]
                        low, high = paired_bootstrap_interval(part_values, base_values)
                        row.update(
                            vs_base=float((part_values - base_values).mean()),
                            vs_base_ci_low=low,
                            vs_base_ci_high=high,
                        )
                    rows.append(row)
        return rows

    def query_rows(
        self, eval_set: str, parts: np.ndarray, labels: Sequence[str], run_id: Callable[[str], str]
    ) -> list[dict]:
        return [
            {
                "model": label,
                "model_run_id": run_id(label),
                "eval_set": eval_set,
                "eval_part": part,
                "query_id": query_id,
                "metric": metric,
                "value": float(value),
            }
            for label in labels
            if label in self.values
            for metric in METRICS
            for query_id, part, value in zip(self.query_ids, parts, self.values[label][metric], strict=True)
        ]


def _check_parts(queries: pd.DataFrame) -> None:
    if "eval_part" not in queries:
        raise ValueError(f"eval_queries has no eval_part column (one of {', '.join(EVAL_PARTS)} per query)")
    unknown = sorted(set(queries["eval_part"].dropna()) - set(EVAL_PARTS)) + (
        ["null"] if queries["eval_part"].isna().any() else []
    )
    if unknown:
        raise ValueError(f"eval_queries.eval_part must be one of {', '.join(EVAL_PARTS)}, found {unknown}")


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
