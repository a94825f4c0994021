-- TAT-QA dev questions, one row per question, with the passages that answer it: the paragraphs its
-- `rel_paragraphs` name (by their order within the context, resolved here to paragraph uids) and, for
-- questions answered from the table (answer_from table or table-text), the context's table.
with source as (

    {{ external_file_rows('external_files', 'tatqa_dev') }}

),

questions as (

    select
        source.table.uid as context_id,
        source.paragraphs,
        unnest(source.questions) as question
    from source

),

question_fields as (

    -- unnest(struct) spreads the question's fields into columns: uid, question, answer_from, ...
    select
        questions.context_id,
        questions.paragraphs,
        unnest(questions.question)  -- noqa: AL03
    from questions

)

select
    cast(question_fields.context_id as varchar) as context_id,
    cast(question_fields.uid as varchar) as question_id,
    {{ clean_text('question_fields.question') }} as question_text,
    question_fields.answer_from,
    list_concat(
        list_transform(
            list_filter(
                question_fields.paragraphs,
                paragraph -> list_contains(question_fields.rel_paragraphs, cast(paragraph.order as varchar))
            ),
            paragraph -> cast(paragraph.uid as varchar)
        ),
        case
            when question_fields.answer_from in ('table', 'table-text')
                then [cast(question_fields.context_id as varchar)]
            else []
        end
    ) as answer_passage_ids
from question_fields
