-- The latest training run beside a reference run, for the analyst who changed a pair strategy and asks
-- whether it helped. The reference is var comparison_reference_run, or else the run published before
-- the latest one (what search served when the latest run was trained). Sections, in this order:
--   metric        per eval set, part and metric, the tuned model and its BM25 hybrid over the queries
--                 both runs were scored on: the means, their difference and its 95% paired bootstrap
--                 interval (vectorfin_paired_interval); verdict better / worse / within noise
--   pairs per strategy, examples per negative rule, quality gate   (training_run_profiles)
--   training setting   the keys of the training config whose values differ
-- Without a reference run (the first run, say) the latest run's values stand alone.
{{ config(materialized='table') }}

with runs as (

    select
        run_id,
        cast(config as json) as config,
        built_at
    from {{ ref('training_runs') }}

),

latest as (

    select arg_max(run_id, built_at) as run_id
    from runs

),

reference as (

    {%- if var('comparison_reference_run') is not none %}
        select {{ sql_string(var('comparison_reference_run')) }} as run_id
    {%- else %}
        select arg_max(published.run_id, published.first_published_at) as run_id
        from {{ ref('published_runs') }} as published
        where published.run_id not in (select latest.run_id from latest)
    {%- endif %}

),

compared_runs as (

    select
        latest.run_id as latest_run_id,
        reference.run_id as reference_run_id
    from latest
    cross join reference

),

query_values as (

    select * from {{ ref('retrieval_query_metrics') }}

),

paired_queries as (

    select
        latest_values.model,
        latest_values.eval_set,
        latest_values.eval_part,
        latest_values.metric,
        latest_values.query_id,
        latest_values.value as latest_value,
        reference_values.value as reference_value
    from query_values as latest_values
    inner join compared_runs on latest_values.run_id = compared_runs.latest_run_id
    left join query_values as reference_values
        on
            compared_runs.reference_run_id = reference_values.run_id
            and latest_values.model = reference_values.model
            and latest_values.eval_set = reference_values.eval_set
            and latest_values.eval_part = reference_values.eval_part
            and latest_values.metric = reference_values.metric
            and latest_values.query_id = reference_values.query_id

),

metric_groups as (

    select
        model,
        eval_set,
        eval_part,
        metric,
        count(reference_value) as n_paired_queries,
        count(*) as n_latest_queries,
        avg(latest_value) filter (where reference_value is not null) as paired_latest_value,
        avg(latest_value) as all_latest_value,
        avg(reference_value) as reference_value,
        avg(latest_value - reference_value) as difference,
        vectorfin_paired_interval(
            list(latest_value order by query_id) filter (where reference_value is not null),
            list(reference_value order by query_id) filter (where reference_value is not null)
        ) as difference_interval
    from paired_queries
    group by model, eval_set, eval_part, metric

),

metric_rows as (

    select
        'metric' as section,
        model,
        eval_set,
        eval_part,
        metric as item,
        -- with a reference: the queries both runs were scored on; without: all of the latest run's
        if(n_paired_queries > 0, n_paired_queries, n_latest_queries) as n_queries,
        if(n_paired_queries > 0, paired_latest_value, all_latest_value) as latest_value,
        reference_value,
        difference,
        difference_interval[1] as ci_low,
        difference_interval[2] as ci_high,
        case
            when n_paired_queries = 0 then 'no reference'
            when difference_interval[1] > 0 then 'better'
            when difference_interval[2] < 0 then 'worse'
            else 'within noise'
        end as verdict,
        null as latest_text,
        null as reference_text
    from metric_groups

),

profiles as (

    select * from {{ ref('training_run_profiles') }}

),

latest_profile as (

    select profiles.*
    from profiles
    inner join compared_runs on profiles.run_id = compared_runs.latest_run_id

),

reference_profile as (

    select profiles.*
    from profiles
    inner join compared_runs on profiles.run_id = compared_runs.reference_run_id

),

profile_rows as (

    select
        coalesce(latest_profile.aspect, reference_profile.aspect) as section,
        coalesce(latest_profile.item, reference_profile.item) as item,
        latest_profile.quantity as latest_value,
        reference_profile.quantity as reference_value,
        latest_profile.quantity - reference_profile.quantity as difference,
        latest_profile.observation as latest_text,
        reference_profile.observation as reference_text,
        case
            when compared_runs.reference_run_id is null then 'no reference'
            -- equal hashes: the same values, nulls included
            when
                hash(latest_profile.quantity, latest_profile.observation)
                = hash(reference_profile.quantity, reference_profile.observation)
                then 'same'
            else 'changed'
        end as verdict
    from latest_profile
    full outer join reference_profile
        on
            latest_profile.aspect = reference_profile.aspect
            and latest_profile.item = reference_profile.item
    cross join compared_runs

),

settings as (

    select
        runs.run_id,
        setting.setting_name as item,
        cast(json_extract(runs.config, '$."' || setting.setting_name || '"') as varchar) as setting_value
    from runs
    cross join unnest(json_keys(runs.config)) as setting (setting_name)

),

latest_settings as (

    select settings.*
    from settings
    inner join compared_runs on settings.run_id = compared_runs.latest_run_id

),

reference_settings as (

    select settings.*
    from settings
    inner join compared_runs on settings.run_id = compared_runs.reference_run_id

),

setting_rows as (

    select
        'training setting' as section,
        coalesce(latest_settings.item, reference_settings.item) as item,
        latest_settings.setting_value as latest_text,
        reference_settings.setting_value as reference_text,
        'changed' as verdict
    from latest_settings
    full outer join reference_settings on latest_settings.item = reference_settings.item
    cross join compared_runs
    where
        compared_runs.reference_run_id is not null
        and latest_settings.setting_value is distinct from reference_settings.setting_value

),

comparisons as (

    select * from metric_rows
    union all by name
    select * from profile_rows
    union all by name
    select * from setting_rows

)

select
    concat_ws(
        ' | ',
        comparisons.section,
        comparisons.model,
        comparisons.eval_set,
        comparisons.eval_part,
        comparisons.item
    ) as comparison_id,
    compared_runs.latest_run_id,
    compared_runs.reference_run_id,
    comparisons.section,
    comparisons.model,
    comparisons.eval_set,
    comparisons.eval_part,
    comparisons.item,
    comparisons.n_queries,
    comparisons.latest_value,
    comparisons.reference_value,
    comparisons.difference,
    comparisons.ci_low,
    comparisons.ci_high,
    comparisons.verdict,
    comparisons.latest_text,
    comparisons.reference_text
from comparisons
cross join compared_runs
order by
    case comparisons.section
        when 'metric' then 0
        when 'pairs per strategy' then 1
        when 'examples per negative rule' then 2
        when 'quality gate' then 3
        else 4
    end,
    comparisons.eval_set,
    comparisons.eval_part,
    comparisons.model,
    comparisons.item
