"""Great Expectations gate over training_pairs: one row per expectation, stored whether it passed or not.

The dbt test on `success` fails `dbt build` (skipping training); `training_runs` refuses to train on a
failed gate too, so `dbt run` without tests is safe. Pairs that found no negative are left out of
training_pairs but kept in int_pairs_with_hard_negatives: their ids come from there, so they count.
"""

import json

from vectorfin.config.project_vars import mapping_setting
from vectorfin.config.validation import enabled_pair_strategies
from vectorfin.quality import gate_thresholds, run_training_pairs_gate


def model(dbt, session):
    dbt.config(materialized="table")
    thresholds = gate_thresholds(
        mapping_setting("quality_gate", dbt.config.get("quality_gate")),
        int(dbt.config.get("negatives_per_pair")),
    )
    strategies = enabled_pair_strategies(
        mapping_setting("pair_strategies", dbt.config.get("pair_strategies")),
        mapping_setting("pair_strategy_overrides", dbt.config.get("pair_strategy_overrides")),
    )
    training_pair_ids = dbt.ref("int_pairs_with_hard_negatives").project("pair_id").df()["pair_id"]
    return run_training_pairs_gate(
        dbt.ref("training_pairs").df(),
        thresholds,
        strategies,
        training_pair_ids=training_pair_ids,
        raise_on_failure=False,
        negative_rules=json.loads(dbt.config.get("negative_rules")),
    )
