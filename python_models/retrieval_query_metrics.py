"""Every training run's tuned model (and its hybrid with BM25) scored query by query on every evaluation
set: what run_comparison compares two runs on. Read from the evaluation retrieval_metrics made (the
same cache, nothing is encoded twice); a run already here is replaced, never duplicated."""

import json

from vectorfin.ml.runs import current_run, evaluate_current_run


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key=["run_id", "model", "eval_set", "query_id", "metric"])
    dbt.ref("retrieval_metrics")  # built after it, so the scores are cached already
    training_runs = dbt.ref("training_runs").df()
    values = evaluate_current_run(
        training_runs,
        dbt.ref("eval_queries").df(),
        dbt.ref("eval_corpus").df(),
        dbt.ref("eval_qrels").df(),
        dbt.ref("stg_external_files__stsb_pairs").df(),
        hybrid_dense_weight=json.loads(dbt.config.get("hybrid_dense_weight")),
        comparison_models=json.loads(dbt.config.get("comparison_models")),
    ).query_values
    return values.assign(run_id=current_run(training_runs)["run_id"])
