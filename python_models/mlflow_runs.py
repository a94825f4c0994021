"""Each training run logged once to MLflow (vectorfin.ml.tracking): its settings, pair mix, metrics per
eval set, run report and model folder. An unchanged rebuild reuses the run and logs nothing; var
mlflow_tracking: false logs nothing at all."""

import json

from dbt_common.invocation import get_invocation_id

from vectorfin.config.locations import StateLocations
from vectorfin.ml.run_lookup import current_run
from vectorfin.ml.tracking import log_training_run, nothing_logged


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="run_id")
    run = current_run(dbt.ref("training_runs").df())
    metrics = dbt.ref("retrieval_metrics").df()
    profiles = dbt.ref("training_run_profiles").df()
    dbt.ref("run_report")  # built after the report, whose charts it logs
    if not json.loads(dbt.config.get("mlflow_tracking")):
        return nothing_logged()
    locations = StateLocations.from_env()
    return log_training_run(
        run,
        metrics,
        profiles,
        tracking_uri=locations.mlflow_tracking_uri,
        artifact_root=locations.mlflow_dir / "artifacts",
        invocation_id=get_invocation_id(),
    )
