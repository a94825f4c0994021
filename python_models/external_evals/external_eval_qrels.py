"""External eval sets (TAT-QA dev, ConvFinQA dev): their qrels, for the eval_qrels mart."""

from vectorfin.external_evals import load_external_evals


def model(dbt, session):
    dbt.config(materialized="table")
    return load_external_evals(dbt.config.get("evals_dir")).qrels
