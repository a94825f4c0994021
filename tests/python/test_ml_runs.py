"""The glue the dbt Python models call: settings parsing, sampling, run selection, eval pairs."""

from __future__ import annotations

import pandas as pd
import pytest

from vectorfin.config import Settings
from vectorfin.dbt_settings import mapping_setting
from vectorfin.ml.runs import (
    cap_eval_sets,
    current_run,
    early_stopping_pairs,
    embeddings_table_sql,
    sample_pairs,
)


def test_json_settings_from_dbt_vars() -> None:
    assert mapping_setting("training", '{"lora_r": 8, "epochs": 2}') == {"lora_r": 8, "epochs": 2}
    assert mapping_setting("training", "") == {}
    assert mapping_setting("training", None) == {}
    with pytest.raises(ValueError, match="'training' must be a mapping"):
        mapping_setting("training", "[1, 2]")


def test_sampling_is_deterministic_and_capped() -> None:
    pairs = pd.DataFrame({"pair_id": [f"p{i}" for i in range(50)], "anchor_text": "a"})

    first = sample_pairs(pairs, 10)
    again = sample_pairs(pairs.sample(frac=1.0, random_state=3), 10)

    assert len(first) == 10
    assert set(first["pair_id"]) == set(again["pair_id"])
    assert sample_pairs(pairs, None) is pairs
    assert len(sample_pairs(pairs, 500)) == 50


def test_current_run_is_the_latest_built() -> None:
    runs = pd.DataFrame(
        {
            "run_id": ["old", "new", "middle"],
            "built_at": ["2026-01-01T00:00:00", "2026-03-01T00:00:00", "2026-02-01T00:00:00"],
        }
    )

    assert current_run(runs)["run_id"] == "new"
    with pytest.raises(ValueError, match="training_runs is empty"):
        current_run(runs.iloc[0:0])


def test_early_stopping_pairs_join_queries_to_relevant_documents() -> None:
    queries = pd.DataFrame(
        {
            "eval_set": ["main", "main", "other"],
            "query_id": ["q1", "q2", "q1"],
            "query_text": ["Q1", "Q2", "X"],
        }
    )
    corpus = pd.DataFrame({"eval_set": ["main", "main"], "doc_id": ["d1", "d2"], "doc_text": ["D1", "D2"]})
    qrels = pd.DataFrame(
        {
            "eval_set": ["main", "main", "other"],
            "query_id": ["q1", "q2", "q1"],
            "doc_id": ["d1", "d2", "d1"],
            "relevance": [1, 0, 1],
        }
    )

    pairs = early_stopping_pairs(queries, corpus, qrels, "main")

    assert pairs[["anchor_text", "positive_text"]].values.tolist() == [["Q1", "D1"]]
    assert pairs["pair_id"].tolist() == ["q1:d1"]


def test_embeddings_are_read_back_as_fixed_size_arrays(settings: Settings) -> None:
    sql = embeddings_table_sql(settings, 384)

    assert "embedding::float[384]" in sql
    assert f"iceberg_scan('{settings.warehouse}/embeddings/chunk_embeddings')" in sql


def test_capped_eval_sets_keep_every_relevant_document() -> None:
    queries = pd.DataFrame(
        {"eval_set": "main", "query_id": [f"q{i}" for i in range(20)], "query_text": "question"}
    )
    corpus = pd.DataFrame({"eval_set": "main", "doc_id": [f"d{i}" for i in range(100)], "doc_text": "text"})
    qrels = pd.DataFrame(
        {
            "eval_set": "main",
            "query_id": [f"q{i}" for i in range(20)],
            "doc_id": [f"d{i}" for i in range(20)],
            "relevance": 1,
        }
    )

    kept_queries, kept_corpus, kept_qrels = cap_eval_sets(
        queries, corpus, qrels, max_queries=5, max_corpus=12
    )

    assert len(kept_queries) == 5
    assert len(kept_corpus) == 12
    assert set(kept_qrels["doc_id"]) <= set(kept_corpus["doc_id"])
    assert set(kept_qrels["query_id"]) == set(kept_queries["query_id"])
    again = cap_eval_sets(queries.iloc[::-1], corpus.iloc[::-1], qrels, max_queries=5, max_corpus=12)
    assert set(again[1]["doc_id"]) == set(kept_corpus["doc_id"])


def test_uncapped_eval_sets_drop_only_unjudged_queries() -> None:
    queries = pd.DataFrame({"eval_set": "main", "query_id": ["q1", "q2"], "query_text": ["a", "b"]})
    corpus = pd.DataFrame({"eval_set": "main", "doc_id": ["d1", "d2"], "doc_text": ["x", "y"]})
    qrels = pd.DataFrame({"eval_set": "main", "query_id": ["q1"], "doc_id": ["d1"], "relevance": [1]})

    kept_queries, kept_corpus, _ = cap_eval_sets(queries, corpus, qrels, None, None)

    assert kept_queries["query_id"].tolist() == ["q1"]
    assert len(kept_corpus) == 2
