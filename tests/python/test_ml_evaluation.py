"""Evaluation: trec_eval metrics (pytrec_eval) checked against hand-written references, BM25 (bm25s)
against the Okapi formula, chunking, fusion, STS Spearman and evaluate_models on a tiny set.

The reference functions below are the hand-written metrics the project used before pytrec_eval: each
encodes a trec_eval convention by hand, so a library or convention change shows up as a disagreement.
"""

import logging
import math
import random
import re
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer

from vectorfin.bm25 import K1, B, BM25Index, tokenize
from vectorfin.config import PROJECT_ROOT
from vectorfin.config.training import TrainingConfig
from vectorfin.loading.readers import read_corpora
from vectorfin.ml.evaluation import (
    FUSION_WEIGHT_GRID,
    METRICS,
    RESULT_COLUMNS,
    _ranks,
    chosen_fusion_weight,
    chunk_corpus,
    document_scores,
    evaluate_models,
    rank_documents,
    ranking_metrics,
    reciprocal_rank_fusion,
    split_into_chunks,
    sts_spearman,
    truncated,
)
from vectorfin.ml.intervals import paired_bootstrap_interval, paired_interval_sql

RANKED = ["d1", "d2", "d3", "d4"]
# d9 is relevant but never retrieved: it still counts in recall, nDCG's ideal and AP.
RELEVANCE = {"d2": 1, "d4": 2, "d9": 1, "d3": 0}


# --- hand-written references (trec_eval conventions) -------------------------------------------


def reference_ndcg(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Linear gain; the ideal ranking orders every relevant document, retrieved or not."""
    gains = [relevance.get(doc_id, 0) for doc_id in ranked[:k]]
    ideal = sorted((grade for grade in relevance.values() if grade > 0), reverse=True)[:k]

    def dcg(values: Sequence[int]) -> float:
        return sum(gain / math.log2(rank + 2) for rank, gain in enumerate(values))

    return dcg(gains) / dcg(ideal) if dcg(ideal) else 0.0


def reference_mrr(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    return next(
        (1.0 / rank for rank, doc_id in enumerate(ranked[:k], 1) if relevance.get(doc_id, 0) > 0), 0.0
    )


def reference_recall(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    relevant = {doc_id for doc_id, grade in relevance.items() if grade > 0}
    return len(relevant.intersection(ranked[:k])) / len(relevant) if relevant else 0.0


def reference_average_precision(ranked: Sequence[str], relevance: Mapping[str, int], k: int) -> float:
    """Divided by every relevant document: unretrieved ones count as misses."""
    n_relevant = sum(1 for grade in relevance.values() if grade > 0)
    hits, precision_sum = 0, 0.0
    for rank, doc_id in enumerate(ranked[:k], 1):
        if relevance.get(doc_id, 0) > 0:
            hits += 1
            precision_sum += hits / rank
    return precision_sum / n_relevant if n_relevant else 0.0


def reference_metrics(ranked: Sequence[str], relevance: Mapping[str, int]) -> dict[str, float]:
    return {
        "ndcg@10": reference_ndcg(ranked, relevance, 10),
        "mrr@10": reference_mrr(ranked, relevance, 10),
        "recall@1": reference_recall(ranked, relevance, 1),
        "recall@5": reference_recall(ranked, relevance, 5),
        "recall@10": reference_recall(ranked, relevance, 10),
        "map@100": reference_average_precision(ranked, relevance, 100),
    }


def reference_bm25(documents: Sequence[str], query: str, k1: float = K1, b: float = B) -> np.ndarray:
    """Classic Okapi BM25 with Lucene's non-negative idf, term by term; (k1 + 1) in the numerator."""
    tokenized = [tokenize(document) for document in documents]
    average_length = np.mean([len(tokens) for tokens in tokenized])
    scores = np.zeros(len(documents))
    for term in set(tokenize(query)):
        n = sum(term in tokens for tokens in tokenized)
        idf = math.log(1 + (len(documents) - n + 0.5) / (n + 0.5))
        for index, tokens in enumerate(tokenized):
            tf = Counter(tokens)[term]
            norm = k1 * (1 - b + b * len(tokens) / average_length)
            scores[index] += idf * tf * (k1 + 1) / (tf + norm) if tf else 0.0
    return scores


def metrics_of(ranked: Sequence[str], relevance: Mapping[str, int]) -> dict[str, float]:
    """The library's metrics of one query."""
    return ranking_metrics({"q": ranked}, {"q": relevance})["q"]


@pytest.fixture(scope="module")
def base_model():
    return SentenceTransformer(TrainingConfig().resolved_base_model(), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(TrainingConfig().resolved_base_model(), local_files_only=True)


# --- metrics -------------------------------------------------------------------------------------


def test_ndcg_uses_linear_gain_and_the_ideal_over_all_relevant_docs():
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    for ndcg in (reference_ndcg(RANKED, RELEVANCE, 10), metrics_of(RANKED, RELEVANCE)["ndcg@10"]):
        assert ndcg == pytest.approx(dcg / ideal)
        assert ndcg == pytest.approx(0.47663, abs=1e-5)
    assert metrics_of(["d4", "d2", "d9"], RELEVANCE)["ndcg@10"] == pytest.approx(1.0)


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_doc_within_k():
    assert reference_mrr(RANKED, RELEVANCE, 10) == metrics_of(RANKED, RELEVANCE)["mrr@10"] == 0.5
    # the first relevant document at rank 11 is outside MRR@10
    deep = [f"n{i}" for i in range(10)] + ["d2"]
    assert reference_mrr(deep, RELEVANCE, 10) == metrics_of(deep, RELEVANCE)["mrr@10"] == 0.0


def test_recall_counts_relevant_docs_found_within_k():
    library = metrics_of(RANKED, RELEVANCE)
    assert reference_recall(RANKED, RELEVANCE, 1) == library["recall@1"] == 0.0
    assert reference_recall(RANKED, RELEVANCE, 2) == pytest.approx(1 / 3)
    assert reference_recall(RANKED, RELEVANCE, 5) == pytest.approx(2 / 3)
    assert library["recall@5"] == library["recall@10"] == pytest.approx(2 / 3)


def test_average_precision_divides_by_all_relevant_docs():
    # hits at ranks 2 and 4: (1/2 + 2/4) / 3 relevant
    assert reference_average_precision(RANKED, RELEVANCE, 100) == pytest.approx(1 / 3)
    assert metrics_of(RANKED, RELEVANCE)["map@100"] == pytest.approx(1 / 3)
    assert metrics_of(["d2"], {"d2": 1})["map@100"] == 1.0


def test_a_query_without_relevant_docs_scores_zero_everywhere():
    assert set(metrics_of(RANKED, {"d1": 0}).values()) == {0.0}
    assert set(metrics_of(RANKED, {}).values()) == {0.0}
    assert set(metrics_of([], RELEVANCE).values()) == {0.0}
    assert tuple(metrics_of(RANKED, RELEVANCE)) == METRICS


def test_the_ranking_order_is_kept_whatever_the_doc_ids():
    """trec_eval orders a run by score, ties by doc id descending; the project hands it strictly
    decreasing scores, so a ranking is judged in the project's order (here, the reverse of the ids')."""
    ranked = ["a", "b", "c"]
    assert metrics_of(ranked, {"a": 1})["mrr@10"] == 1.0
    assert metrics_of(ranked, {"c": 1})["mrr@10"] == pytest.approx(1 / 3)


def test_library_metrics_equal_the_references_on_random_rankings():
    generator = random.Random(7)
    rankings, judgements = {}, {}
    for query in range(300):
        docs = [f"d{i}" for i in range(150)]
        generator.shuffle(docs)
        rankings[f"q{query}"] = docs[: generator.choice([0, 1, 3, 10, 40, 100])]
        # graded judgements, some on documents no ranking retrieves
        judgements[f"q{query}"] = {
            f"d{generator.randrange(200)}": generator.choice([0, 1, 1, 2, 3])
            for _ in range(generator.randrange(6))
        }

    library = ranking_metrics(rankings, judgements)

    for query, ranked in rankings.items():
        assert library[query] == pytest.approx(reference_metrics(ranked, judgements[query]), abs=1e-12), query


# --- BM25 ----------------------------------------------------------------------------------------


def test_bm25_score_matches_the_formula_by_hand():
    index = BM25Index(["a b", "a c c"])
    # N=2, n(c)=1: idf = ln(1 + 1.5/1.5); doc 2: tf=2, |d|=3, avgdl=2.5. Lucene's form: no (k1 + 1).
    expected = math.log(2) * 2 / (2 + 1.5 * (0.25 + 0.75 * 3 / 2.5))
    assert index.scores(["C"])[0, 1] == pytest.approx(expected)
    assert index.scores(["C"])[0, 0] == 0.0
    assert index.scores(["unknown words", ""]).tolist() == [[0.0, 0.0], [0.0, 0.0]]


def test_bm25_ranks_the_matching_and_shorter_document_first():
    documents = [
        "The board declared a quarterly dividend of 24 cents per share.",
        "Revenue grew 12% on strong cloud demand.",
        "Dividend policy was discussed at length among many other topics of the annual meeting agenda.",
    ]
    [scores] = BM25Index(documents).scores(["quarterly dividend per share"])
    assert scores.argmax() == 0
    assert scores[2] > scores[1] == 0.0


def test_bm25_keeps_the_project_tokens_and_counts_a_query_term_once():
    """Lowercased \\w+ runs: a figure's digits and one-letter words are terms (bm25s' own tokenizer
    would drop them), and repeating a query term does not weigh it more."""
    documents = ["Revenue grew 2% in Q4.", "Margins grew in the quarter.", "Q 4 guidance"]
    index = BM25Index(documents)
    assert tokenize("Revenue grew 2% in Q4.") == ["revenue", "grew", "2", "in", "q4"]
    assert index.scores(["2"])[0].argmax() == 0
    np.testing.assert_allclose(index.scores(["grew grew grew"]), index.scores(["grew"]))


def test_bm25_over_texts_without_words_scores_nothing():
    assert BM25Index(["", "  ", "?!"]).scores(["revenue"]).tolist() == [[0.0, 0.0, 0.0]]
    assert BM25Index([]).scores(["revenue"]).shape == (1, 0)


def test_bm25_equals_the_okapi_reference_on_real_text():
    """bm25s against the hand-written scorer the project used before, on every text unit of the demo
    corpus: equal up to the constant (k1 + 1) Lucene leaves out, so every ranking is the same."""
    corpus = read_corpora([PROJECT_ROOT / "demo_corpus"])
    texts = [unit.text for documents in corpus.documents.values() for doc in documents for unit in doc.units]
    queries = ["interest rate risk on floating rate debt", "gross margin decline", "dividend per share 2023"]

    library = BM25Index(texts).scores(queries)

    for row, query in enumerate(queries):
        reference = reference_bm25(texts, query)
        np.testing.assert_allclose(library[row] * (K1 + 1), reference, rtol=1e-9, atol=1e-12)
        assert reference.max() > 0


def test_chunks_are_consecutive_slices_within_the_token_budget(tokenizer):
    text = " ".join(f"Operating income rose {i}% while unhedged exposure declined." for i in range(12))
    chunks = split_into_chunks(text, tokenizer, max_tokens=14)
    assert len(chunks) > 5
    assert all(len(tokenizer.tokenize(chunk)) <= 14 for chunk in chunks)
    # Nothing is lost or reordered: chunks are consecutive slices of the text.
    assert "".join(chunks).replace(" ", "") == text.replace(" ", "")


def test_a_document_scores_as_its_best_chunk(tokenizer):
    chunks = chunk_corpus(
        ["long", "short"], ["alpha beta gamma delta", "epsilon"], tokenizer, max_seq_length=4
    )
    assert chunks.texts == ["alpha beta", "gamma delta", "epsilon"]
    scores = pd.DataFrame([[0.1, 0.9, 0.5], [0.2, 0.1, 0.3]]).to_numpy()
    assert rank_documents(document_scores(scores, chunks), chunks.doc_ids) == [
        ["long", "short"],
        ["short", "long"],
    ]


def test_reciprocal_rank_fusion_weighs_ranks_not_scores():
    dense = np.array([[0.9, 0.8, 0.1]])  # ranks 1, 2, 3
    keyword = np.array([[0.0, 40.0, 35.0]])  # ranks 3, 1, 2: BM25's scale does not matter
    even = reciprocal_rank_fusion(dense, keyword, dense_weight=0.5, k=60)
    np.testing.assert_allclose(even, 0.5 * np.array([[1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62]]))
    assert rank_documents(even, ["a", "b", "c"]) == [["b", "a", "c"]]
    assert rank_documents(reciprocal_rank_fusion(dense, keyword, 1.0), ["a", "b", "c"]) == [["a", "b", "c"]]
    assert rank_documents(reciprocal_rank_fusion(dense, keyword, 0.0), ["a", "b", "c"]) == [["b", "c", "a"]]


def test_sts_spearman_rewards_ranking_similar_pairs_above_unrelated_ones(base_model):
    pairs = pd.DataFrame(
        {
            "sentence_1": ["A plane is taking off.", "A man plays the flute.", "A cat sleeps on a sofa."],
            "sentence_2": [
                "An airplane is taking off.",
                "A man plays a flute.",
                "Stocks fell sharply today.",
            ],
            "score": [5.0, 4.0, 0.0],
        }
    )
    assert sts_spearman(base_model, pairs) > 0.4
    assert sts_spearman(base_model, pairs.assign(score=[0.0, 1.0, 5.0])) < 0


def _eval_frames():
    queries = pd.DataFrame(
        {
            "eval_set": ["filings", "filings", "filings", "calls"],
            "query_id": ["q1", "q2", "q_unjudged", "q1"],
            "eval_part": ["tune", "test", "test", "test"],
            "query_text": [
                "quarterly dividend per share",
                "interest rate risk on floating rate debt",
                "anything",
                "cloud revenue growth",
            ],
        }
    )
    filler = " ".join(["The company also discussed unrelated facilities and leases."] * 6)
    corpus = pd.DataFrame(
        {
            "eval_set": ["filings"] * 3 + ["calls"] * 2,
            "doc_id": ["div", "rates", "other", "cloud", "hiring"],
            "doc_text": [
                "The board declared a quarterly dividend of 24 cents per share.",
                # The relevant sentence sits at the end of a long document: found through its chunk.
                f"{filler} Rising interest rates raise the cost of our floating rate debt.",
                "Headcount was stable and the new office opened in Austin.",
                "Cloud revenue grew 30% year over year.",
                "We hired 200 engineers this quarter.",
            ],
        }
    )
    qrels = pd.DataFrame(
        {
            "eval_set": ["filings", "filings", "calls", "calls"],
            "query_id": ["q1", "q2", "q1", "q1"],
            "doc_id": ["div", "rates", "cloud", "hiring"],
            "relevance": [1, 1, 1, 0],
        }
    )
    return queries, corpus, qrels


@pytest.mark.slow
def test_evaluate_models_reports_every_metric_per_model_eval_set_and_part(base_model, caplog):
    queries, corpus, qrels = _eval_frames()
    caplog.set_level(logging.INFO, logger="vectorfin.progress")
    evaluation = evaluate_models(
        {"base": base_model, "bm25": None},
        queries,
        corpus,
        qrels,
        run_ids={"base": "run-0"},
        max_seq_length=24,
        fusion_weights=(0.5,),
        truncated_dims={"base": [64]},
        query_values_of=("base", "base+bm25"),
    )
    result = evaluation.metrics
    assert list(result.columns) == RESULT_COLUMNS
    # each query's values, for the labels asked: their means per part are the reported metrics
    values = evaluation.query_values
    assert set(values["model"]) == {"base", "base+bm25"}
    means = values.groupby(["model", "eval_set", "eval_part", "metric"])["value"].mean()
    reported = result.set_index(["model", "eval_set", "eval_part", "metric"])["value"]
    pd.testing.assert_series_equal(means, reported.loc[means.index], check_names=False)
    # base, its 64-dim prefix, bm25 and base's fusion; filings has a tune and a test query, calls a test one
    assert len(result) == 4 * 3 * len(METRICS)
    assert set(result["model"]) == {"base", "base@64", "bm25", "base+bm25"}
    assert set(result["model_run_id"]) == {"run-0", "base@64", "bm25", "run-0+bm25"}
    n_queries = result.groupby(["eval_set", "eval_part"])["n_queries"].first().to_dict()
    assert n_queries == {("calls", "test"): 1, ("filings", "test"): 1, ("filings", "tune"): 1}
    # Every scorer finds every relevant document first on this easy set.
    assert result["value"].tolist() == pytest.approx([1.0] * len(result))
    assert result.loc[result["model"] == "base+bm25", "dense_weight"].eq(0.5).all()
    others = result[result["model"] != "base"]
    assert others["vs_base"].tolist() == pytest.approx([0.0] * len(others))
    assert result.loc[result["model"] == "base", "vs_base"].isna().all()
    # Encoding logs its progress per eval set and dense model: texts done, a rate (then an ETA, or done).
    progress = [record.getMessage() for record in caplog.records if record.name == "vectorfin.progress"]
    assert [line.split(":")[0] for line in progress] == [
        "evaluation calls / base",
        "evaluation filings / base",
    ]
    assert all(re.search(r": (\d+)/\1 texts \(100%\), [0-9.]+ texts/s, done$", line) for line in progress), (
        progress
    )


def test_rank_documents_is_a_stable_sorts_top_k_without_sorting_everything():
    rng = np.random.default_rng(3)
    scores = rng.integers(0, 6, size=(40, 300)).astype(float)  # many ties, at the cut-off too
    doc_ids = [f"d{index}" for index in range(300)]
    expected = [[doc_ids[i] for i in row[:20]] for row in np.argsort(-scores, axis=1, kind="stable")]
    assert rank_documents(scores, doc_ids, depth=20) == expected


def test_ranks_number_documents_from_one_in_score_order():
    np.testing.assert_array_equal(_ranks(np.array([[0.2, 0.9, 0.5]])), [[3, 1, 2]])


def test_a_truncated_embedding_is_unit_length_prefix():
    vectors = np.array([[0.6, 0.0, 0.8], [0.0, 0.0, 1.0]])
    np.testing.assert_allclose(truncated(vectors, 2), [[1.0, 0.0], [0.0, 0.0]])


def test_the_fusion_weight_is_chosen_on_the_tune_rows_alone():
    # Row 0 (tune): dense is right (doc 0), keyword wrong. Row 1 (test): the reverse.
    dense = _ranks(np.array([[0.9, 0.1, 0.0], [0.1, 0.9, 0.0]]))
    keyword = _ranks(np.array([[0.0, 0.1, 0.9], [0.0, 0.1, 0.9]]))
    tune_rows = np.array([True, False])

    def score(fused):  # the tune rows' "NDCG": doc 0 strictly above doc 2
        return float(np.mean(fused[:, 0] > fused[:, 2]))

    # dense must lead on the tune row, and of the weights that do, the one nearest even fusion wins;
    # the test row (where keyword is right) is never read
    assert chosen_fusion_weight(dense, keyword, tune_rows, FUSION_WEIGHT_GRID, score) == 0.6
    # every weight scores the same: the tie goes to the even fusion
    assert chosen_fusion_weight(dense, keyword, tune_rows, FUSION_WEIGHT_GRID, lambda fused: 1.0) == 0.5
    # no tune rows: the even fusion, without reading the test rows
    assert chosen_fusion_weight(dense, keyword, np.array([False, False]), FUSION_WEIGHT_GRID, score) == 0.5


def test_the_paired_bootstrap_interval_holds_zero_only_for_noise():
    rng = np.random.default_rng(0)
    base = rng.uniform(0, 1, 400)
    better = base + 0.05 + rng.normal(0, 0.05, 400)
    low, high = paired_bootstrap_interval(better, base)
    assert 0 < low < 0.05 < high
    noise = base + rng.normal(0, 0.05, 400)
    low, high = paired_bootstrap_interval(noise, base)
    assert low < 0 < high
    assert paired_bootstrap_interval(better, base) == paired_bootstrap_interval(better, base)  # fixed seed


def test_sql_gets_the_same_interval_and_refuses_lists_it_cannot_pair():
    """vectorfin_paired_interval: the bootstrap interval as [low, high], null for no queries."""
    better, base = [0.6, 0.7, 0.5, 0.9], [0.5, 0.4, 0.5, 0.6]
    assert paired_interval_sql(better, base) == list(
        paired_bootstrap_interval(np.array(better), np.array(base))
    )
    assert paired_interval_sql([], []) is None
    with pytest.raises(ValueError, match="3 values against 2 baseline values"):
        paired_interval_sql([0.1, 0.2, 0.3], [0.1, 0.2])
