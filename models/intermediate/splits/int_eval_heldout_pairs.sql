-- The held-out evaluation pairs (split_status = 'eval') with their query key: one query per distinct
-- anchor text. eval_queries and eval_qrels both read this, so their query_ids always agree.
with pairs as (

    select * from {{ ref('int_pairs_unioned') }}

),

splits as (

    select * from {{ ref('int_pairs_split') }}

)

select
    md5('heldout_pairs|' || pairs.anchor_text) as query_id,
    pairs.pair_id,
    pairs.strategy,
    pairs.anchor_text,
    pairs.positive_chunk_id,
    pairs.ticker,
    pairs.fiscal_period,
    pairs.knowledge_ts
from pairs
inner join splits on pairs.pair_id = splits.pair_id
where splits.split_status = 'eval'
