-- Strategy labelled_questions: a labelled question -> a passage that answers it (int_labelled_questions:
-- the seed labelled_pairs, a firm's own analysts' questions, and, with var tatqa_training, TAT-QA dev's
-- training contexts). These are the question-shaped pairs the other strategies lack: people ask short
-- questions, and documents answer them. TAT-QA is a public benchmark's dev set: training on half of its
-- contexts is a choice (var tatqa_training), while its held-apart half is an eval set either way.
-- Neither side is a curated chunk: both carry labelled keys, the passage's group decides its split
-- (int_labelled_passages), and its hard negatives are passages of the same source from other groups.
with questions as (

    select * from {{ ref('int_labelled_questions') }}

),

passages as (

    select * from {{ ref('int_labelled_passages') }}

),

pairs as (

    select
        cast(null as varchar) as anchor_chunk_id,
        {{ labelled_key('passages.labelled_source', 'passages.group_id') }} as anchor_doc_id,
        questions.question_text as anchor_text,
        passages.knowledge_ts as anchor_knowledge_ts,
        passages.passage_key as positive_chunk_id,
        {{ labelled_key('passages.labelled_source', 'passages.group_id') }} as positive_doc_id,
        passages.passage_text as positive_text,
        passages.knowledge_ts as positive_knowledge_ts,
        cast(null as varchar) as ticker,
        cast(null as varchar) as fiscal_period
    from questions
    inner join passages on questions.passage_key = passages.passage_key
    where questions.labelled_source <> 'tatqa_dev' or {{ boolean_var('tatqa_training') }}
    -- a question asked twice in the same words about the same passage is one pair
    qualify row_number() over (
            partition by questions.question_text, passages.passage_key order by questions.question_key
        ) = 1

)

{{ select_pair_contract('labelled_questions', 'pairs') }}
