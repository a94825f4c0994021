-- Labelled question -> passage pairs from every labelled source, one row per (question, passage that
-- answers it):
--   * the seed labelled_pairs: a firm's own analysts' questions with the passage that answers each;
--   * TAT-QA dev (when its file is present): each question with its answer paragraphs, plus the
--     context's table for questions answered from it.
-- A group is the unit kept whole on one side of the train/eval split: the seed's group_id, and for
-- TAT-QA the context (one report's table and paragraphs), so no context is both trained and evaluated.
with seed_pairs as (

    select
        labelled_source,
        group_id,
        question_id,
        {{ clean_text('question_text') }} as question_text,
        passage_id
    from {{ ref('labelled_pairs') }}

),

tatqa_pairs as (

    select
        'tatqa_dev' as labelled_source,
        context_id as group_id,
        question_id,
        question_text,
        unnest(answer_passage_ids) as passage_id
    from {{ ref('stg_external_files__tatqa_questions') }}

),

unioned as (

    select * from seed_pairs
    union all
    select * from tatqa_pairs

)

select
    {{ labelled_key('labelled_source', 'question_id') }} as question_key,
    {{ labelled_key('labelled_source', 'passage_id') }} as passage_key,
    labelled_source,
    group_id,
    question_text
from unioned
