-- The held-out evaluation pairs (split_status = 'eval') whose positive is a curated chunk, with their
-- query key: one query per distinct anchor text. eval_queries and eval_qrels both read this, so their
-- query_ids always agree. (Labelled pairs are evaluated as sets of their own: eval_queries.)
-- A query whose text also anchors a pair outside the eval split is left out: training may have seen
-- that very text (a risk-factor description anchors pairs of every company), and scoring it would
-- reward memorising the query rather than retrieval.
with pairs as (

    select * from {{ ref('int_pairs_split') }}

),

eval_chunks as (

    select chunk_id
    from {{ ref('int_chunk_splits') }}
    where split = 'eval'

),

non_eval_anchors as (

    select distinct anchor_text
    from pairs
    where split_status <> 'eval'

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
inner join eval_chunks on pairs.positive_chunk_id = eval_chunks.chunk_id
left join non_eval_anchors on pairs.anchor_text = non_eval_anchors.anchor_text
where pairs.split_status = 'eval' and non_eval_anchors.anchor_text is null
