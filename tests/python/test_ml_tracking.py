"""MLflow logging of a training run on small frames and a real SQLite store (no dbt: the full build in
test_dbt_python_models.py checks the dbt model)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from mlflow.tracking import MlflowClient

from vectorfin.ml.backends import ONNX_FOLDER
from vectorfin.ml.evaluation import RESULT_COLUMNS
from vectorfin.ml.tracking import EXPERIMENT, INVOCATION_TAG, RUN_ID_TAG, log_training_run, metric_key

RUN_ID = "lora-0123456789ab-20261207T100000Z"


def training_run(artifact: Path) -> pd.Series:
    (artifact / "report").mkdir(parents=True)
    (artifact / "report" / "README.md").write_text("# Run report\n")
    (artifact / ONNX_FOLDER).mkdir()
    (artifact / ONNX_FOLDER / "model.onnx").write_bytes(b"onnx")
    (artifact / "evaluations").mkdir()
    (artifact / "model.safetensors").write_bytes(b"weights")
    (artifact / "adapter").mkdir()
    (artifact / "adapter" / "adapter_config.json").write_text("{}")
    return pd.Series(
        {
            "run_id": RUN_ID,
            "artifact_path": str(artifact),
            "config": json.dumps({"learning_rate": 5e-4, "target_modules": ["query", "value"]}),
            "base_model": "all-MiniLM-L6-v2",
            "device": "cpu",
            "precision": "fp32",
            "n_train_pairs": 96,
            "reused": False,
            "raw_snapshots": json.dumps({"raw.filing_chunks": 11, "raw.transcript_chunks": 12}),
        }
    )


def metrics(run_id: str = RUN_ID) -> pd.DataFrame:
    rows = [
        ("base", "all-MiniLM-L6-v2", "heldout_pairs", "test", "ndcg@10", 0.30, 50, None, None, None, None),
        ("tuned", run_id, "heldout_pairs", "test", "ndcg@10", 0.36, 50, None, 0.06, 0.03, 0.09),
        ("tuned+bm25", f"{run_id}+bm25", "heldout_pairs", "tune", "ndcg@10", 0.40, 50, 0.6, None, None, None),
    ]
    return pd.DataFrame(rows, columns=RESULT_COLUMNS)


def profiles() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "run_id": [RUN_ID, RUN_ID, "lora-other"],
            "aspect": ["pairs per strategy", "examples per negative rule", "pairs per strategy"],
            "item": ["qa_turns", "same_company_other_period", "qa_turns"],
            "quantity": [40.0, 52.0, 7.0],
            "observation": [None, None, None],
        }
    )


def test_a_run_is_logged_once_with_its_settings_metrics_and_artifacts(tmp_path: Path) -> None:
    run = training_run(tmp_path / "artifact")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    first = log_training_run(run, metrics(), profiles(), uri, tmp_path / "mlflow_artifacts", "inv-1")
    again = log_training_run(run, metrics(), profiles(), uri, tmp_path / "mlflow_artifacts", "inv-2")

    client = MlflowClient(tracking_uri=uri)
    [logged] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert first["mlflow_run_id"].tolist() == again["mlflow_run_id"].tolist() == [logged.info.run_id]
    assert logged.data.tags[RUN_ID_TAG] == RUN_ID
    assert logged.data.tags[INVOCATION_TAG] == "inv-1"  # the build that logged it, not the no-op one
    assert logged.data.tags["iceberg.snapshot.raw.filing_chunks"] == "11"
    assert logged.data.metrics == {
        "base.heldout_pairs.test.ndcg_at_10": 0.30,
        "tuned.heldout_pairs.test.ndcg_at_10": 0.36,
        "tuned_plus_bm25.heldout_pairs.tune.ndcg_at_10": 0.40,
    }
    assert logged.data.params["training.target_modules"] == '["query", "value"]'
    assert logged.data.params["pairs_per_strategy.qa_turns"] == "40"  # this run's, not another's
    assert logged.data.params["examples_per_negative_rule.same_company_other_period"] == "52"
    top = {entry.path for entry in client.list_artifacts(logged.info.run_id)}
    assert top == {"run_report", "model"}
    model = {entry.path for entry in client.list_artifacts(logged.info.run_id, "model")}
    assert model == {"model/model.safetensors", "model/adapter"}  # not the ONNX exports, not the cache


def test_scores_of_another_run_are_not_logged_as_this_runs(tmp_path: Path) -> None:
    run = training_run(tmp_path / "artifact")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"

    log_training_run(run, metrics("lora-older"), profiles(), uri, tmp_path / "mlflow_artifacts", None)

    client = MlflowClient(tracking_uri=uri)
    [logged] = client.search_runs([client.get_experiment_by_name(EXPERIMENT).experiment_id])
    assert logged.data.metrics == {}


def test_metric_names_keep_to_what_mlflow_accepts() -> None:
    assert metric_key("tuned@128", "tatqa_dev", "test", "ndcg@10") == "tuned_at_128.tatqa_dev.test.ndcg_at_10"
    assert metric_key("all-mpnet-base-v2+bm25", "set;1", "tune", "mrr@10") == (
        "all-mpnet-base-v2_plus_bm25.set_1.tune.mrr_at_10"
    )


def test_a_run_id_with_a_quote_is_refused_not_pasted_into_the_filter(tmp_path: Path) -> None:
    run = training_run(tmp_path / "artifact")
    run["run_id"] = "lora-x' or tags.a = 'b"

    with pytest.raises(ValueError, match="holds no quote"):
        log_training_run(run, metrics(), profiles(), f"sqlite:///{tmp_path / 'mlflow.db'}", tmp_path, None)
