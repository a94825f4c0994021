"""Great Expectations gate over training_pairs: one row per expectation; fails the build on any failure.

Training (`training_runs`) refs this model, so when the gate raises, dbt skips training.
"""

from vectorfin.dbt_settings import mapping_setting
from vectorfin.quality import enabled_strategies, run_training_pairs_gate


def model(dbt, session):
    dbt.config(materialized="table")
    thresholds = mapping_setting("quality_gate", dbt.config.get("quality_gate"))
    thresholds["negatives_per_pair"] = int(dbt.config.get("negatives_per_pair"))
    strategies = enabled_strategies(
        mapping_setting("pair_strategies", dbt.config.get("pair_strategies")),
        mapping_setting("pair_strategy_overrides", dbt.config.get("pair_strategy_overrides")),
    )
    pairs = dbt.ref("training_pairs").df()
    return run_training_pairs_gate(pairs, thresholds, strategies)
