"""The glue the dbt Python models call: settings parsing, sampling, run selection, eval pairs."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pandas as pd
import pytest

from vectorfin.config.locations import StateLocations
from vectorfin.config.project_vars import mapping_setting
from vectorfin.config.training import TrainingConfig
from vectorfin.duck import sql_string
from vectorfin.ml.evaluation import RESULT_COLUMNS
from vectorfin.ml.runs import (
    Publication,
    current_run,
    early_stopping_pairs,
    embeddings_table_sql,
    existing_table,
    kept_embeddings_sql,
    publication,
    read_cached_evaluation,
    sample_pairs,
    tune_sample,
    write_parquet_atomically,
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


def test_a_cap_keeps_the_labelled_strategies_first() -> None:
    pairs = pd.DataFrame(
        {"pair_id": [f"p{i}" for i in range(50)], "strategy": ["qa_turns"] * 45 + ["labelled_questions"] * 5}
    )

    sampled = sample_pairs(pairs, 10, ["labelled_questions"])

    assert len(sampled) == 10
    assert (sampled["strategy"] == "labelled_questions").sum() == 5
    assert set(sample_pairs(pairs, 3, ["labelled_questions"])["strategy"]) == {"labelled_questions"}
    uniform = sample_pairs(pairs, 10)
    assert (uniform["strategy"] == "labelled_questions").sum() < 5  # the fixed hash order: 1 of them


def test_kept_strategies_must_be_registered() -> None:
    with pytest.raises(ValueError, match="names no registered pair strategy: labeled_questions"):
        TrainingConfig(max_pairs_keeps_strategies=["labeled_questions"])


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


def test_embeddings_are_read_back_as_fixed_size_arrays(settings: StateLocations) -> None:
    sql = embeddings_table_sql(settings, 384, "run-1")

    assert "embedding::float[384]" in sql
    assert f"iceberg_scan('{settings.warehouse}/embeddings/chunk_embeddings')" in sql
    assert sql.endswith("where model_run_id = 'run-1'")


def test_sql_strings_are_text_whatever_they_hold() -> None:
    """The one Python quoting helper: a warehouse path or run id with quotes, `;` or comment markers is
    one literal DuckDB reads back unchanged (the embeddings SQL pasted them raw before)."""
    tricky = "/data/o'brien's warehouse; drop table x; -- /* \\ */"
    with duckdb.connect() as connection:
        assert connection.execute(f"select {sql_string(tricky)}").fetchone() == (tricky,)
        connection.execute("create table chunks (model_run_id varchar)")
        connection.execute("insert into chunks values (?)", [tricky])
        assert connection.execute(
            f"select count(*) from chunks where model_run_id = {sql_string(tricky)}"
        ).fetchone() == (1,)


def test_a_run_is_published_only_when_every_check_judged_it_and_passed() -> None:
    run = pd.Series({"run_id": "run-2"})

    def checks(model_run_id: str | None, retrieval: bool, forgetting: bool = True) -> pd.DataFrame:
        return pd.DataFrame(
            [
                {
                    "check_name": "retrieval",
                    "model_run_id": model_run_id,
                    "passed": retrieval,
                    "reason": "ndcg ...",
                },
                {
                    "check_name": "forgetting",
                    "model_run_id": model_run_id,
                    "passed": forgetting,
                    "reason": "sts ...",
                },
            ]
        )

    assert publication(run, checks("run-2", True)).publish
    regressed = publication(run, checks("run-2", False))
    assert not regressed.publish and regressed.reason == "run run-2: retrieval: ndcg ...; forgetting: sts ..."
    assert not publication(run, checks("run-2", True, forgetting=False)).publish
    stale = publication(run, checks("run-1", True))
    assert not stale.publish and "judged run-1" in stale.reason
    assert not publication(run, checks(None, False)).publish
    assert not publication(run, checks("run-2", True).iloc[0:0]).publish


def test_kept_embeddings_are_the_table_as_it_was_or_none(caplog: pytest.LogCaptureFixture) -> None:
    decision = Publication(False, "run run-2: tuned ndcg@10 0.1 is more than 0.02 below base 0.4")
    with duckdb.connect() as connection:
        assert existing_table(connection, "main", "chunk_embeddings") is None
        assert connection.execute(kept_embeddings_sql(decision, None)).fetchall() == []
        connection.execute(
            "create table chunk_embeddings as select 'c1' as chunk_id, 'run-1' as model_run_id"
        )
        table = existing_table(connection, "main", "chunk_embeddings")
        assert connection.execute(kept_embeddings_sql(decision, table)).fetchall() == [("c1", "run-1")]
    assert "Not publishing: run run-2: tuned ndcg@10 0.1" in caplog.text


def metrics_frame() -> pd.DataFrame:
    return pd.DataFrame(
        [
            {
                "model": "tuned",
                "model_run_id": "run-1",
                "eval_set": "heldout_pairs",
                "metric": "ndcg@10",
                "value": 0.5,
                "n_queries": 3,
            }
        ],
        columns=RESULT_COLUMNS,
    )


def test_evaluation_cache_is_written_whole_or_not_at_all(tmp_path: Path) -> None:
    cache = tmp_path / "evaluations" / "abc.parquet"
    write_parquet_atomically(metrics_frame(), cache)
    # a frame pyarrow cannot write (an object column of mixed types) fails half way
    broken = metrics_frame().assign(value=[object()])

    with pytest.raises((TypeError, ValueError)):
        write_parquet_atomically(broken, cache)

    pd.testing.assert_frame_equal(pd.read_parquet(cache), metrics_frame())
    assert [path.name for path in cache.parent.iterdir()] == ["abc.parquet"]  # the temporary file is gone


def test_a_truncated_or_foreign_cache_is_recomputed(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    cache = tmp_path / "abc.parquet"
    assert read_cached_evaluation(cache) is None
    write_parquet_atomically(metrics_frame(), cache)
    pd.testing.assert_frame_equal(read_cached_evaluation(cache), metrics_frame())

    cache.write_bytes(cache.read_bytes()[:100])
    assert read_cached_evaluation(cache) is None
    assert "is unreadable, recomputing it" in caplog.text

    metrics_frame().drop(columns="n_queries").to_parquet(cache)
    assert read_cached_evaluation(cache) is None


def test_the_tune_sample_keeps_every_relevant_document_and_no_test_query() -> None:
    queries = pd.DataFrame(
        {
            "eval_set": "main",
            "query_id": [f"q{i}" for i in range(30)],
            "query_text": "question",
            "eval_part": ["tune"] * 20 + ["test"] * 10,
        }
    )
    corpus = pd.DataFrame({"eval_set": "main", "doc_id": [f"d{i}" for i in range(100)], "doc_text": "text"})
    qrels = pd.DataFrame(
        {
            "eval_set": "main",
            "query_id": [f"q{i}" for i in range(30)],
            "doc_id": [f"d{i}" for i in range(30)],
            "relevance": 1,
        }
    )

    kept_queries, kept_corpus, kept_qrels = tune_sample(queries, corpus, qrels, max_queries=5, max_corpus=12)

    assert len(kept_queries) == 5 and set(kept_queries["eval_part"]) == {"tune"}
    assert len(kept_corpus) == 12
    assert set(kept_qrels["doc_id"]) <= set(kept_corpus["doc_id"])
    assert set(kept_qrels["query_id"]) == set(kept_queries["query_id"])
    again = tune_sample(queries.iloc[::-1], corpus.iloc[::-1], qrels, max_queries=5, max_corpus=12)
    assert set(again[1]["doc_id"]) == set(kept_corpus["doc_id"])
    everything = tune_sample(queries, corpus, qrels, None, None)[0]
    assert set(everything["query_id"]) == {f"q{i}" for i in range(20)}  # the test part is never read


def test_an_uncapped_tune_sample_drops_only_unjudged_queries() -> None:
    queries = pd.DataFrame(
        {"eval_set": "main", "query_id": ["q1", "q2"], "query_text": ["a", "b"], "eval_part": "tune"}
    )
    corpus = pd.DataFrame({"eval_set": "main", "doc_id": ["d1", "d2"], "doc_text": ["x", "y"]})
    qrels = pd.DataFrame({"eval_set": "main", "query_id": ["q1"], "doc_id": ["d1"], "relevance": [1]})

    kept_queries, kept_corpus, _ = tune_sample(queries, corpus, qrels, None, None)

    assert kept_queries["query_id"].tolist() == ["q1"]
    assert len(kept_corpus) == 2
