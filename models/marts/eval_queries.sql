-- Evaluation queries of every eval set, one row per (eval_set, query_id):
--   heldout_pairs      the anchors of held-out pairs (int_eval_heldout_pairs: companies the training
--                      never sees); one query per distinct anchor text
--   <labelled source>  the questions of held-out groups of each labelled source (tatqa_dev: TAT-QA
--                      contexts held apart from training; the seed's own source)
--   convfinqa_dev      the first question of each ConvFinQA dev conversation, when its file is present
--   probe_euphemisms   seed probe_euphemisms: an evasive phrase, to be matched with its plain meaning
--   probe_risk_factors seed probe_risk_statements: a risk statement, to be matched with its factor
-- Each query's eval_group is what its set is split by: the company (heldout_pairs), the labelled group (a
-- TAT-QA report), the filer of the ConvFinQA page, the probe item itself. A group is in the locked test
-- part when stable_fraction(set|group) < var eval_test_fraction, else in the tune part: every choice (a
-- default, a sweep, the fusion weight) reads the tune part only, the reported figures the test part. A
-- group's queries are never on both sides, so a choice cannot learn a report or a company the test asks of.
with heldout as (

    select
        'heldout_pairs' as eval_set,
        query_id,
        anchor_text as query_text,
        min(strategy) as strategy,
        min(ticker) as eval_group,
        min(ticker) as ticker,
        min(fiscal_period) as fiscal_period,
        max(knowledge_ts) as knowledge_ts
    from {{ ref('int_eval_heldout_pairs') }}
    group by query_id, anchor_text

),

labelled as (

    select distinct
        questions.labelled_source as eval_set,
        questions.question_key as query_id,
        questions.question_text as query_text,
        'labelled_questions' as strategy,
        passages.group_id as eval_group,
        cast(null as varchar) as ticker,
        cast(null as varchar) as fiscal_period,
        passages.knowledge_ts
    from {{ ref('int_labelled_questions') }} as questions
    inner join {{ ref('int_labelled_passages') }} as passages on questions.passage_key = passages.passage_key
    where passages.split = 'eval'

),

convfinqa as (

    select
        'convfinqa_dev' as eval_set,
        conversation_id as query_id,
        first_question as query_text,
        cast(null as varchar) as strategy,
        split_part(page_id, '/', 1) as eval_group,
        cast(null as varchar) as ticker,
        cast(null as varchar) as fiscal_period,
        cast(null as timestamp) as knowledge_ts
    from {{ ref('stg_external_files__convfinqa_conversations') }}
    where first_question <> ''

),

euphemisms as (

    select
        'probe_euphemisms' as eval_set,
        euphemism_id as query_id,
        euphemism as query_text,
        cast(null as varchar) as strategy,
        euphemism_id as eval_group,
        cast(null as varchar) as ticker,
        cast(null as varchar) as fiscal_period,
        cast(null as timestamp) as knowledge_ts
    from {{ ref('probe_euphemisms') }}

),

risk_statements as (

    select
        'probe_risk_factors' as eval_set,
        statement_id as query_id,
        statement as query_text,
        cast(null as varchar) as strategy,
        statement_id as eval_group,
        cast(null as varchar) as ticker,
        cast(null as varchar) as fiscal_period,
        cast(null as timestamp) as knowledge_ts
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
    *,
    case
        when
            {{ stable_fraction("eval_set || '|' || eval_group", 'eval_part') }}
            < {{ number_var('eval_test_fraction') }}
            then 'test'
        else 'tune'
    end as eval_part
from unioned
