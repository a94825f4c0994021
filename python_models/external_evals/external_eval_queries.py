"""External eval sets (TAT-QA dev, ConvFinQA dev): their queries, for the eval_queries mart."""

from vectorfin.external_evals import load_external_evals


def model(dbt, session):
    dbt.config(materialized="table")
    return load_external_evals(dbt.config.get("evals_dir")).queries
