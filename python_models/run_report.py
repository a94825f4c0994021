"""The run report: charts of what went into the current training run and how it scored, written beside
its artifact (`<artifact>/report/`, linked from the model card) and copied where the dbt docs site loads
them. One row per chart. Loads no model: runs in seconds after retrieval_metrics and regression_check."""

from vectorfin.config.locations import StateLocations
from vectorfin.ml.run_lookup import current_run
from vectorfin.report import write_run_report


def model(dbt, session):
    dbt.config(materialized="table")
    return write_run_report(
        current_run(dbt.ref("training_runs").df()),
        pairs=dbt.ref("training_pairs").project("pair_id, strategy").df(),
        rejected=dbt.ref("rejected_chunks").project("reason").df(),
        gate=dbt.ref("training_pairs_quality_gate").df(),
        metrics=dbt.ref("retrieval_metrics").df(),
        checks=dbt.ref("regression_check").df(),
        comparison=dbt.ref("run_comparison").df(),
        docs_assets_dir=StateLocations.from_env().docs_assets_dir,
    )
