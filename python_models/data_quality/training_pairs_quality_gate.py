"""Great Expectations gate over training_pairs: one row per expectation; fails the build on any failure.

Training (`training_runs`) refs this model, so when the gate raises, dbt skips training.
"""

from vectorfin.quality import enabled_strategies, parse_setting, run_training_pairs_gate


def model(dbt, session):
    dbt.config(materialized="table")
    thresholds = dict(parse_setting(dbt.config.get("quality_gate")) or {})
    thresholds["negatives_per_pair"] = int(dbt.config.get("negatives_per_pair"))
    strategies = enabled_strategies(
        parse_setting(dbt.config.get("pair_strategies")),
        parse_setting(dbt.config.get("pair_strategy_overrides")),
    )
    pairs = dbt.ref("training_pairs").df()
    return run_training_pairs_gate(pairs, thresholds, strategies)
