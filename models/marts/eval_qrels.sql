-- Relevance judgements, one row per (eval_set, query_id, doc_id); relevance 1 = relevant (binary).
--   heldout_pairs   query = a held-out anchor, doc = its positive chunk(s)
--   tatqa_dev, convfinqa_dev   from external_eval_qrels
with heldout as (

    select distinct
        'heldout_pairs' as eval_set,
        query_id,
        positive_chunk_id as doc_id,
        1 as relevance
    from {{ ref('int_eval_heldout_pairs') }}

),

external as (

    select
        cast(eval_set as varchar) as eval_set,
        cast(query_id as varchar) as query_id,
        cast(doc_id as varchar) as doc_id,
        cast(relevance as integer) as relevance
    from {{ ref('external_eval_qrels') }}

)

select * from heldout
union all
select * from external
