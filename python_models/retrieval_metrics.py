"""Base model vs tuned model vs BM25 vs their fusion on every evaluation set, and STS Benchmark
Spearman of base and tuned (the forgetting guard): one row per (model, set, metric)."""

from vectorfin.ml.runs import current_run, evaluate

STS_SPLIT = "test"  # the STS Benchmark split reported by convention; train and dev may feed training


def model(dbt, session):
    dbt.config(materialized="table")
    sts = dbt.ref("stg_external_files__stsb_pairs").df()
    return evaluate(
        current_run(dbt.ref("training_runs").df()),
        dbt.ref("eval_queries").df(),
        dbt.ref("eval_corpus").df(),
        dbt.ref("eval_qrels").df(),
        max_queries=dbt.config.get("max_queries") or None,
        max_corpus=dbt.config.get("max_corpus") or None,
        hybrid_dense_weight=float(dbt.config.get("hybrid_dense_weight")),
        sts_pairs=sts[sts["split"] == STS_SPLIT],
    )
