-- Rule same_group_non_answer: for a pair whose positive is a labelled passage, another passage of the
-- pair's own group (the same report) that the labels say does not answer the question: the passage a
-- reader confuses with the answer (the cost paragraph beside the revenue table). The one rule that may
-- take a negative from the positive's document: a labelled source names every passage that answers a
-- question (int_labelled_questions; a question can have several, a table and a paragraph), so the
-- report's other passages are known non-answers, where a chunk's own document may answer in another chunk.
{%- set n_negatives = var('negatives_per_pair') | int %}
with pair_context as (

    select * from {{ ref('int_negative_pair_context') }}

),

labelled_candidates as (

    select * from {{ ref('int_negative_labelled_candidates') }}

),

labelled_answers as (

    select
        labelled_source,
        group_id,
        question_text,
        passage_key
    from {{ ref('int_labelled_questions') }}

)

select
    pair_context.pair_id,
    passage.passage_key as negative_chunk_id,
    row_number() over (
        partition by pair_context.pair_id
        order by {{ stable_fraction("pair_context.pair_id || passage.passage_key", 'negative_pick') }}
    ) as rule_rank
from pair_context
-- a pair whose positive is not a labelled passage has a null group: it joins nothing
inner join labelled_candidates as passage
    on pair_context.positive_labelled_source = passage.labelled_source
        and pair_context.positive_group_id = passage.group_id
        and pair_context.positive_chunk_id <> passage.passage_key
        and passage.passage_text not in (pair_context.anchor_text, pair_context.positive_text)
left join labelled_answers as answer
    on pair_context.positive_labelled_source = answer.labelled_source
        and pair_context.positive_group_id = answer.group_id
        and pair_context.anchor_text = answer.question_text
        and passage.passage_key = answer.passage_key
where answer.passage_key is null
qualify rule_rank <= {{ n_negatives }}
