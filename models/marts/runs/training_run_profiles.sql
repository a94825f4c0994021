-- What each training run was trained on, one row per (run, aspect, item): its pairs per strategy, its
-- examples per negative rule and the quality gate's observations of those pairs. Kept for every run
-- (incremental; a rebuild of a run replaces its rows), so run_comparison can set two runs side by side.
{{ config(materialized='incremental', unique_key='profile_id') }}

with current_run as (

    select arg_max(run_id, built_at) as run_id
    from {{ ref('training_runs') }}

),

pairs as (

    select * from {{ ref('training_pairs') }}

),

pairs_per_strategy as (

    select
        'pairs per strategy' as aspect,
        strategy as item,
        count(distinct pair_id) as quantity,
        null as observation
    from pairs
    group by strategy

),

examples_per_negative_rule as (

    select
        'examples per negative rule' as aspect,
        negative_rule as item,
        count(*) as quantity,
        null as observation
    from pairs
    group by negative_rule

),

gate_observations as (

    select
        'quality gate' as aspect,
        batch || ': ' || expectation || coalesce(' (' || column_name || ')', '') as item,
        unexpected_percent as quantity,
        observed_value as observation
    from {{ ref('training_pairs_quality_gate') }}

),

aspects as (

    select * from pairs_per_strategy
    union all by name
    select * from examples_per_negative_rule
    union all by name
    select * from gate_observations

)

select
    concat_ws(' | ', current_run.run_id, aspects.aspect, aspects.item) as profile_id,
    current_run.run_id,
    aspects.aspect,
    aspects.item,
    cast(aspects.quantity as double) as quantity,
    cast(aspects.observation as varchar) as observation
from aspects
cross join current_run
