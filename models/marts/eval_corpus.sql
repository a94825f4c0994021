-- The documents each eval set's queries are run against, one row per (eval_set, doc_id):
--   heldout_pairs   every curated chunk of the eval-split companies (not only the positives), so
--                   retrieval has to find the positive among all of those companies' text
--   tatqa_dev, convfinqa_dev   the external sets' paragraphs/tables and pages (external_eval_corpus)
with heldout as (

    select
        'heldout_pairs' as eval_set,
        chunks.chunk_id as doc_id,
        chunks.chunk_text as doc_text,
        chunks.doc_id as source_doc_id,
        chunks.ticker
    from {{ ref('int_chunks_curated') }} as chunks
    inner join {{ ref('int_chunk_splits') }} as splits on chunks.chunk_id = splits.chunk_id
    where splits.split = 'eval'

),

external as (

    select
        cast(eval_set as varchar) as eval_set,
        cast(doc_id as varchar) as doc_id,
        cast(doc_text as varchar) as doc_text,
        cast(null as varchar) as source_doc_id,
        cast(null as varchar) as ticker
    from {{ ref('external_eval_corpus') }}

)

select * from heldout
union all
select * from external
