-- The documents each eval set's queries are run against, one row per (eval_set, doc_id):
--   heldout_pairs      every curated chunk of the eval-split companies (not only the positives), so
--                      retrieval has to find the positive among all of those companies' text
--   <labelled source>  every passage of the source's held-out groups (tatqa_dev: the paragraphs and
--                      tables of the held-apart contexts)
--   convfinqa_dev      the ConvFinQA pages (text, table, text), one per page (its fullest text)
--   probe_euphemisms   every plain meaning of the euphemism probe
--   probe_risk_factors every description of the risk-factor taxonomy
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

labelled as (

    select
        labelled_source as eval_set,
        passage_key as doc_id,
        passage_text as doc_text,
        {{ labelled_key('labelled_source', 'group_id') }} as source_doc_id,
        cast(null as varchar) as ticker
    from {{ ref('int_labelled_passages') }}
    where split = 'eval'

),

convfinqa as (

    -- conversations over one page may carry it differently (one without its table): the fullest text
    select
        'convfinqa_dev' as eval_set,
        page_id as doc_id,
        arg_max(page_text, length(page_text)) as doc_text,
        page_id as source_doc_id,
        cast(null as varchar) as ticker
    from {{ ref('stg_external_files__convfinqa_conversations') }}
    group by page_id

),

euphemisms as (

    select
        'probe_euphemisms' as eval_set,
        euphemism_id as doc_id,
        plain_meaning as doc_text,
        cast(null as varchar) as source_doc_id,
        cast(null as varchar) as ticker
    from {{ ref('probe_euphemisms') }}

),

risk_factors as (

    select
        'probe_risk_factors' as eval_set,
        risk_factor as doc_id,
        description as doc_text,
        cast(null as varchar) as source_doc_id,
        cast(null as varchar) as ticker
    from {{ ref('risk_factor_taxonomy') }}

)

select * from heldout
union all
select * from labelled
union all
select * from convfinqa
union all
select * from euphemisms
union all
select * from risk_factors
