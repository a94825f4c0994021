-- Evaluation queries of every eval set, one row per (eval_set, query_id):
--   heldout_pairs   the anchors of held-out pairs (int_eval_heldout_pairs: companies the training
--                   never sees); one query per distinct anchor text
--   tatqa_dev, convfinqa_dev   the external sets (python model external_eval_queries), when present
with heldout as (

    select
        'heldout_pairs' as eval_set,
        query_id,
        anchor_text as query_text,
        min(strategy) as strategy,
        min(ticker) as ticker,
        min(fiscal_period) as fiscal_period,
        max(knowledge_ts) as knowledge_ts
    from {{ ref('int_eval_heldout_pairs') }}
    group by query_id, anchor_text

),

external as (

    select
        cast(eval_set as varchar) as eval_set,
        cast(query_id as varchar) as query_id,
        cast(query_text as varchar) as query_text,
        cast(null as varchar) as strategy,
        cast(null as varchar) as ticker,
        cast(null as varchar) as fiscal_period,
        cast(null as timestamp) as knowledge_ts
    from {{ ref('external_eval_queries') }}

)

select * from heldout
union all
select * from external
