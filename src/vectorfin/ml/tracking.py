"""Every training run logged to MLflow, so runs can be compared in a tracker (`mlflow ui`) as well as in
SQL (run_comparison).

A run is logged once: its training_runs run_id is a tag, and a run the tracker already holds (a no-op
rebuild reuses the run) is not logged again. The store is $MLFLOW_TRACKING_URI, else a SQLite file in the
artifacts folder (`StateLocations.mlflow_tracking_uri`); no server is needed. Logged: the training
config as parameters, the pairs per strategy and per negative rule (training_run_profiles) as parameters,
every retrieval_metrics value as a metric, the run report and the model folder as artifacts, and as tags
the dbt invocation and the Iceberg snapshots the build read.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from vectorfin.ml.backends import ONNX_FOLDER

logger = logging.getLogger(__name__)

EXPERIMENT = "vectorfin_finetune"
RUN_ID_TAG = "vectorfin.run_id"
INVOCATION_TAG = "dbt.invocation_id"
SNAPSHOT_TAG_PREFIX = "iceberg.snapshot."
TRACKED_COLUMNS = ["run_id", "mlflow_run_id", "experiment_id", "tracking_uri", "logged_at"]
REPORT_FOLDER = "report"
# What of a run's artifact folder is not the model: the report (logged on its own), the evaluation cache
# and the ONNX exports (rebuilt from the model when missing, and larger than it).
NOT_MODEL = {REPORT_FOLDER, "evaluations", ONNX_FOLDER}
PROFILED_ASPECTS = ("pairs per strategy", "examples per negative rule")
MAX_PARAM_CHARS = 6000  # MLflow's limit on a parameter's value


def metric_key(*parts: str) -> str:
    """An MLflow metric name from retrieval_metrics' labels (`tuned+bm25`, `ndcg@10`): MLflow allows
    letters, digits, `_ - . / :` and spaces only."""
    text = ".".join(parts).replace("@", "_at_").replace("+", "_plus_")
    return re.sub(r"[^\w\-./: ]", "_", text)


def log_training_run(
    run: pd.Series,
    metrics: pd.DataFrame,
    profiles: pd.DataFrame,
    tracking_uri: str,
    artifact_root: Path,
    invocation_id: str | None,
) -> pd.DataFrame:
    """Log `run` (a training_runs row) with its `metrics` (retrieval_metrics) and `profiles`
    (training_run_profiles) to the tracker at `tracking_uri`, unless it holds that run already; one row of
    TRACKED_COLUMNS either way. `artifact_root` holds the experiment's artifacts when it is created."""
    from mlflow.entities import Metric, Param, RunTag
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    experiment_id = (
        experiment.experiment_id
        if experiment is not None
        else client.create_experiment(EXPERIMENT, artifact_location=artifact_root.resolve().as_uri())
    )
    run_id = str(run["run_id"])
    if "'" in run_id:  # it goes into MLflow's filter as a quoted string
        raise ValueError(f"a training run id holds no quote, got {run_id!r}")
    logged = client.search_runs(
        [experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'", max_results=1
    )
    if logged:
        logger.info(
            "MLflow holds training run %s already (%s): not logged again", run_id, logged[0].info.run_id
        )
        return _tracked(run_id, logged[0].info.run_id, experiment_id, tracking_uri)
    tags = {RUN_ID_TAG: run_id, INVOCATION_TAG: invocation_id or "unknown"}
    tags |= {f"{SNAPSHOT_TAG_PREFIX}{table}": str(snapshot) for table, snapshot in _snapshots(run).items()}
    created = client.create_run(experiment_id, run_name=run_id, tags=tags)
    mlflow_run_id = created.info.run_id
    now = int(datetime.now(UTC).timestamp() * 1000)
    client.log_batch(
        mlflow_run_id,
        metrics=[Metric(key, value, now, 0) for key, value in _metric_values(run_id, metrics).items()],
        params=[Param(key, value) for key, value in _parameters(run, profiles).items()],
        tags=[RunTag("vectorfin.reused", str(bool(run.get("reused"))))],
    )
    artifact = Path(run["artifact_path"])
    if (artifact / REPORT_FOLDER).is_dir():
        client.log_artifacts(mlflow_run_id, str(artifact / REPORT_FOLDER), "run_report")
    for entry in sorted(artifact.iterdir()):
        if entry.name in NOT_MODEL:
            continue
        if entry.is_dir():
            client.log_artifacts(mlflow_run_id, str(entry), f"model/{entry.name}")
        else:
            client.log_artifact(mlflow_run_id, str(entry), "model")
    client.set_terminated(mlflow_run_id)
    logger.info("Logged training run %s to MLflow (%s) as %s", run_id, tracking_uri, mlflow_run_id)
    return _tracked(run_id, mlflow_run_id, experiment_id, tracking_uri)


def nothing_logged() -> pd.DataFrame:
    """No row, with TRACKED_COLUMNS' types (text): what mlflow_runs returns when tracking is off."""
    return pd.DataFrame({column: pd.Series(dtype="string") for column in TRACKED_COLUMNS})


def _tracked(run_id: str, mlflow_run_id: str, experiment_id: str, tracking_uri: str) -> pd.DataFrame:
    row = [run_id, mlflow_run_id, experiment_id, tracking_uri, datetime.now(UTC).isoformat()]
    return pd.DataFrame([row], columns=TRACKED_COLUMNS)


def _snapshots(run: pd.Series) -> Mapping[str, object]:
    raw = run.get("raw_snapshots")
    return json.loads(raw) if isinstance(raw, str) and raw else {}


def _metric_values(run_id: str, metrics: pd.DataFrame) -> dict[str, float]:
    """`<model>.<eval set>.<part>.<metric>` of every retrieval_metrics row of this run's evaluation."""
    if not (metrics["model_run_id"] == run_id).any():  # retrieval_metrics holds another run's scores
        return {}
    return {
        metric_key(row.model, row.eval_set, row.eval_part, row.metric): float(row.value)
        for row in metrics.itertuples()
        if pd.notna(row.value)
    }


def _parameters(run: pd.Series, profiles: pd.DataFrame) -> dict[str, str]:
    config = json.loads(run["config"])
    parameters = {f"training.{key}": json.dumps(value) for key, value in sorted(config.items())}
    parameters |= {
        "base_model": str(run["base_model"]),
        "device": str(run["device"]),
        "precision": str(run["precision"]),
        "n_train_pairs": str(run["n_train_pairs"]),
    }
    mine = profiles[(profiles["run_id"] == run["run_id"]) & profiles["aspect"].isin(PROFILED_ASPECTS)]
    for row in mine.itertuples():
        parameters[metric_key(row.aspect.replace(" ", "_"), str(row.item))] = str(int(row.quantity))
    return {key: value[:MAX_PARAM_CHARS] for key, value in parameters.items()}
