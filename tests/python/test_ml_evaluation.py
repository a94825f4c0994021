import math

import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer
from transformers import AutoTokenizer

from vectorfin.ml.config import TrainingConfig
from vectorfin.ml.evaluation import (
    BM25,
    METRICS,
    average_precision_at_k,
    chunk_corpus,
    document_scores,
    evaluate_models,
    mrr_at_k,
    ndcg_at_k,
    query_metrics,
    rank_documents,
    recall_at_k,
    reciprocal_rank_fusion,
    split_into_chunks,
    sts_spearman,
)

RANKED = ["d1", "d2", "d3", "d4"]
# d9 is relevant but never retrieved: it still counts in recall, nDCG's ideal and AP.
RELEVANCE = {"d2": 1, "d4": 2, "d9": 1, "d3": 0}


@pytest.fixture(scope="module")
def base_model():
    return SentenceTransformer(TrainingConfig().resolved_base_model(), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def tokenizer():
    return AutoTokenizer.from_pretrained(TrainingConfig().resolved_base_model(), local_files_only=True)


def test_ndcg_uses_linear_gain_and_the_ideal_over_all_relevant_docs():
    dcg = 1 / math.log2(3) + 2 / math.log2(5)
    ideal = 2 / math.log2(2) + 1 / math.log2(3) + 1 / math.log2(4)
    assert ndcg_at_k(RANKED, RELEVANCE, 10) == pytest.approx(dcg / ideal)
    assert ndcg_at_k(RANKED, RELEVANCE, 10) == pytest.approx(0.47663, abs=1e-5)
    assert ndcg_at_k(["d4", "d2", "d9"], RELEVANCE, 10) == pytest.approx(1.0)


def test_mrr_is_the_reciprocal_rank_of_the_first_relevant_doc_within_k():
    assert mrr_at_k(RANKED, RELEVANCE, 10) == 0.5
    assert mrr_at_k(RANKED, RELEVANCE, 1) == 0.0


def test_recall_counts_relevant_docs_found_within_k():
    assert recall_at_k(RANKED, RELEVANCE, 1) == 0.0
    assert recall_at_k(RANKED, RELEVANCE, 2) == pytest.approx(1 / 3)
    assert recall_at_k(RANKED, RELEVANCE, 5) == pytest.approx(2 / 3)


def test_average_precision_divides_by_all_relevant_docs():
    # hits at ranks 2 and 4: (1/2 + 2/4) / 3 relevant
    assert average_precision_at_k(RANKED, RELEVANCE, 100) == pytest.approx(1 / 3)
    assert average_precision_at_k(["d2"], {"d2": 1}, 100) == 1.0


def test_a_query_without_relevant_docs_scores_zero_everywhere():
    assert set(query_metrics(RANKED, {"d1": 0}).values()) == {0.0}
    assert tuple(query_metrics(RANKED, RELEVANCE)) == METRICS


def test_bm25_score_matches_the_formula_by_hand():
    index = BM25(["a b", "a c c"])
    # N=2, n(c)=1: idf = ln(1 + 1.5/1.5); doc 2: tf=2, |d|=3, avgdl=2.5
    expected = math.log(2) * 2 * 2.5 / (2 + 1.5 * (0.25 + 0.75 * 3 / 2.5))
    assert index.scores("C")[1] == pytest.approx(expected)
    assert index.scores("C")[0] == 0.0
    assert index.scores("unknown words").tolist() == [0.0, 0.0]


def test_bm25_ranks_the_matching_and_shorter_document_first():
    documents = [
        "The board declared a quarterly dividend of 24 cents per share.",
        "Revenue grew 12% on strong cloud demand.",
        "Dividend policy was discussed at length among many other topics of the annual meeting agenda.",
    ]
    scores = BM25(documents).scores("quarterly dividend per share")
    assert scores.argmax() == 0
    assert scores[2] > scores[1] == 0.0


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
def test_evaluate_models_reports_every_metric_per_model_and_eval_set(base_model):
    queries, corpus, qrels = _eval_frames()
    result = evaluate_models(
        {"base": base_model, "bm25": None},
        queries,
        corpus,
        qrels,
        run_ids={"base": "run-0"},
        max_seq_length=24,
        hybrid_dense_weight=0.5,
    )
    assert list(result.columns) == ["model", "model_run_id", "eval_set", "metric", "value", "n_queries"]
    assert len(result) == 3 * 2 * len(METRICS)  # base, bm25 and their fusion, on two sets
    assert set(result["model_run_id"]) == {"run-0", "bm25", "run-0+bm25"}
    n_queries = result.groupby("eval_set")["n_queries"].first().to_dict()
    assert n_queries == {"calls": 1, "filings": 2}  # the unjudged query is left out
    # Both scorers find every relevant document first on this easy set.
    assert result["value"].tolist() == pytest.approx([1.0] * len(result))
