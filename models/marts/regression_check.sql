-- The regression check that guards what is published, written once: the tuned model's NDCG@10 on var
-- main_eval_set may be at most var max_ndcg_regression_vs_base below the base model's, and a missing
-- score fails. One row, for the run retrieval_metrics evaluated. The test on `passed` fails `dbt build`
-- (skipping chunk_embeddings); chunk_embeddings itself publishes a run only when `passed` (so `dbt run`
-- without tests cannot publish a regressed model either). A view: it always judges retrieval_metrics
-- as it is now.
{{ config(materialized='view') }}

with main_set as (

    select
        model,
        model_run_id,
        value
    from {{ ref('retrieval_metrics') }}
    where eval_set = {{ sql_string(var('main_eval_set')) }} and metric = 'ndcg@10'

),

scores as (

    select
        max(case when model = 'tuned' then model_run_id end) as model_run_id,
        max(case when model = 'base' then value end) as base_ndcg_at_10,
        max(case when model = 'tuned' then value end) as tuned_ndcg_at_10,
        cast({{ var('max_ndcg_regression_vs_base') }} as double) as max_regression
    from main_set

),

judged as (

    select
        *,
        coalesce(tuned_ndcg_at_10 >= base_ndcg_at_10 - max_regression, false) as passed
    from scores

)

select
    model_run_id,
    {{ sql_string(var('main_eval_set')) }} as eval_set,
    base_ndcg_at_10,
    tuned_ndcg_at_10,
    max_regression,
    passed,
    case
        when tuned_ndcg_at_10 is null or base_ndcg_at_10 is null
            then 'no tuned and base ndcg@10 on ' || {{ sql_string(var('main_eval_set')) }} || ' in retrieval_metrics'
        when passed
            then 'tuned ndcg@10 ' || round(tuned_ndcg_at_10, 4) || ' is within ' || max_regression
                || ' of base ' || round(base_ndcg_at_10, 4)
        else 'tuned ndcg@10 ' || round(tuned_ndcg_at_10, 4) || ' is more than ' || max_regression
            || ' below base ' || round(base_ndcg_at_10, 4)
    end as reason
from judged
