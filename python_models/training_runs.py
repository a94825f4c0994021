"""LoRA fine-tuning of the base embedding model on the curated training pairs.

Refuses to train unless every expectation of the data-quality gate passed (its stored rows are read,
so this holds for `dbt run` without tests too). Identical pairs and config reuse the stored artifact
and train nothing; the table keeps one row per training run.
"""

from vectorfin.config.locations import StateLocations
from vectorfin.config.project_vars import mapping_setting
from vectorfin.config.training import TrainingConfig
from vectorfin.ml.runs import early_stopping_pairs, train
from vectorfin.quality import require_passed_gate


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="run_id")
    require_passed_gate(dbt.ref("training_pairs_quality_gate").df())  # bad pairs never reach training
    config = TrainingConfig.from_mapping(mapping_setting("training", dbt.config.get("training")))
    pairs = dbt.ref("training_pairs").df()
    eval_pairs = early_stopping_pairs(
        dbt.ref("eval_queries").df(),
        dbt.ref("eval_corpus").df(),
        dbt.ref("eval_qrels").df(),
        eval_set=dbt.config.get("early_stopping_eval_set"),
    )
    return train(
        pairs,
        config,
        StateLocations.from_env().artifacts_dir,
        eval_pairs=eval_pairs,
        device=dbt.config.get("device") or None,
        raw_snapshots=dbt.ref("stg_raw__snapshots_read").df(),
    )
