"""Base model vs tuned model vs BM25 on every evaluation set: one row per (model, set, metric)."""

from vectorfin.ml.runs import current_run, evaluate


def model(dbt, session):
    dbt.config(materialized="table")
    return evaluate(
        current_run(dbt.ref("training_runs").df()),
        dbt.ref("eval_queries").df(),
        dbt.ref("eval_corpus").df(),
        dbt.ref("eval_qrels").df(),
        max_queries=dbt.config.get("max_queries") or None,
        max_corpus=dbt.config.get("max_corpus") or None,
    )
