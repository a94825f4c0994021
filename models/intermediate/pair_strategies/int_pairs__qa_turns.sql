-- Strategy qa_turns: an analyst's question -> the executive's answer that follows it.
-- In a call's Q&A section (speaker-turn transcripts, the only source with speaker roles), an analyst
-- turn whose last chunk asks something ('?') pairs with the first chunk of the very next turn when
-- an executive speaks it. Turns are numbered without gaps in the raw call, so turn_idx + 1 is the
-- next turn; when that turn was quarantined (an operator line, say) the question gets no pair.
--   * the anchor is the question itself: the chunk's sentences that ask something ('?'), led by the
--     sentence before the first of them when that one sets context rather than greets ("Thanks for
--     taking my question."); a chunk whose questions make under 25 characters keeps its whole text;
--   * non-answers are left out: an answer of fewer than var qa_min_answer_words words, or one shorter
--     than var qa_non_answer_max_chars that matches a pattern of the seed non_answer_patterns (the
--     line failed, a hand-off to a colleague, a question back, a refusal to give the number); a
--     qa_non_answer_max_chars of 0 keeps them.
with qa_chunks as (

    select *
    from {{ ref('int_chunks_curated') }}
    where chunk_kind = 'transcript' and section = 'q_and_a' and turn_idx is not null

),

turns as (

    select
        doc_id,
        turn_idx,
        any_value(speaker_role) as speaker_role,
        arg_min(chunk_id, chunk_idx) as first_chunk_id,
        arg_max(chunk_id, chunk_idx) as last_chunk_id
    from qa_chunks
    group by doc_id, turn_idx

),

questions as (

    select
        chunks.*,
        turns.turn_idx as question_turn_idx,
        {{ sentences('chunks.chunk_text') }} as chunk_sentences
    from turns
    inner join qa_chunks as chunks on turns.last_chunk_id = chunks.chunk_id
    where turns.speaker_role = 'analyst' and contains(chunks.chunk_text, '?')

),

question_spans as (

    select
        *,
        list_position(list_transform(chunk_sentences, sentence -> contains(sentence, '?')), true) as first_question_no
    from questions

),

question_texts as (

    select
        *,
        array_to_string(
            list_concat(
                case
                    when first_question_no > 1
                        and not regexp_matches(
                            lower(chunk_sentences[first_question_no - 1]),
                            '\b(thanks?|thank you|congrat\w*|good (morning|afternoon|evening)|hi|hello|question)\b'
                        )
                        then [chunk_sentences[first_question_no - 1]]
                    else []
                end,
                list_filter(chunk_sentences, sentence -> contains(sentence, '?'))
            ),
            ' '
        ) as question_text
    from question_spans

),

answer_candidates as (

    select
        chunks.*,
        turns.turn_idx as answer_turn_idx
    from turns
    inner join qa_chunks as chunks on turns.first_chunk_id = chunks.chunk_id
    where
        turns.speaker_role = 'executive'
        and len(string_split(trim(chunks.chunk_text), ' ')) >= {{ number_var('qa_min_answer_words') }}

),

non_answers as (

    select distinct answer_candidates.chunk_id
    from answer_candidates
    inner join {{ ref('non_answer_patterns') }} as patterns
        on length(answer_candidates.chunk_text) < {{ number_var('qa_non_answer_max_chars') }}
            and regexp_matches(lower(answer_candidates.chunk_text), lower(patterns.pattern))

),

answers as (

    select answer_candidates.*
    from answer_candidates
    left join non_answers on answer_candidates.chunk_id = non_answers.chunk_id
    where non_answers.chunk_id is null

),

pairs as (

    select
        {{ chunk_pair_columns(
            'question_texts', 'answers',
            anchor_text="case when length(question_texts.question_text) >= 25 then question_texts.question_text
                else question_texts.chunk_text end"
        ) }}
    from question_texts
    inner join answers
        on question_texts.doc_id = answers.doc_id
            and answers.answer_turn_idx = question_texts.question_turn_idx + 1

)

{{ select_pair_contract('qa_turns', 'pairs') }}
