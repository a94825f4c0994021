-- Relevance judgements, one row per (eval_set, query_id, doc_id); relevance 1 = relevant (binary).
--   heldout_pairs      query = a held-out anchor, doc = its positive chunk(s)
--   <labelled source>  query = a held-out question, doc = each passage that answers it
--   convfinqa_dev      query = a conversation's first question, doc = the page it was asked about
--   probe_euphemisms   query = a euphemism, doc = its own plain meaning
--   probe_risk_factors query = a risk statement, doc = the factor an analyst labelled it with
with heldout as (

    select distinct
        'heldout_pairs' as eval_set,
        query_id,
        positive_chunk_id as doc_id
    from {{ ref('int_eval_heldout_pairs') }}

),

labelled as (

    select
        questions.labelled_source as eval_set,
        questions.question_key as query_id,
        questions.passage_key as doc_id
    from {{ ref('int_labelled_questions') }} as questions
    inner join {{ ref('int_labelled_passages') }} as passages on questions.passage_key = passages.passage_key
    where passages.split = 'eval'

),

convfinqa as (

    select
        'convfinqa_dev' as eval_set,
        conversation_id as query_id,
        page_id as doc_id
    from {{ ref('stg_external_files__convfinqa_conversations') }}
    where first_question <> ''

),

euphemisms as (

    select
        'probe_euphemisms' as eval_set,
        euphemism_id as query_id,
        euphemism_id as doc_id
    from {{ ref('probe_euphemisms') }}

),

risk_statements as (

    select
        'probe_risk_factors' as eval_set,
        statement_id as query_id,
        risk_factor as doc_id
    from {{ ref('probe_risk_statements') }}

),

unioned as (

    select * from heldout
    union all
    select * from labelled
    union all
    select * from convfinqa
    union all
    select * from euphemisms
    union all
    select * from risk_statements

)

select
    eval_set,
    query_id,
    doc_id,
    1 as relevance
from unioned
