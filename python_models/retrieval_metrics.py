"""Base model vs tuned model (and its Matryoshka prefixes) vs comparison models vs BM25 vs their fusion
on every evaluation set's tune and test parts, and STS Benchmark Spearman of base and tuned (the
forgetting guard): one row per (model, set, part, metric)."""

import json

from vectorfin.ml.runs import evaluate_current_run


def model(dbt, session):
    dbt.config(materialized="table")
    return evaluate_current_run(
        dbt.ref("training_runs").df(),
        dbt.ref("eval_queries").df(),
        dbt.ref("eval_corpus").df(),
        dbt.ref("eval_qrels").df(),
        dbt.ref("stg_external_files__stsb_pairs").df(),
        hybrid_dense_weight=json.loads(dbt.config.get("hybrid_dense_weight")),
        comparison_models=json.loads(dbt.config.get("comparison_models")),
    ).metrics
