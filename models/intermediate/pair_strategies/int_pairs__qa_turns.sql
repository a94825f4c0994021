-- Strategy qa_turns: an analyst's question -> the executive's answer that follows it.
-- In a call's Q&A section (speaker-turn transcripts, the only source with speaker roles), an analyst
-- turn whose last chunk asks something ('?') pairs with the first chunk of the very next turn when
-- an executive speaks it. Turns are numbered without gaps in the raw call, so turn_idx + 1 is the
-- next turn; when that turn was quarantined (an operator line, say) the question gets no pair.
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
        turns.doc_id,
        turns.turn_idx,
        chunks.chunk_id,
        chunks.chunk_text,
        chunks.knowledge_ts,
        chunks.ticker,
        chunks.fiscal_period
    from turns
    inner join qa_chunks as chunks on turns.last_chunk_id = chunks.chunk_id
    where turns.speaker_role = 'analyst' and contains(chunks.chunk_text, '?')

),

answers as (

    select
        turns.doc_id,
        turns.turn_idx,
        chunks.chunk_id,
        chunks.chunk_text,
        chunks.knowledge_ts
    from turns
    inner join qa_chunks as chunks on turns.first_chunk_id = chunks.chunk_id
    where turns.speaker_role = 'executive'

),

pairs as (

    select
        questions.chunk_id as anchor_chunk_id,
        questions.doc_id as anchor_doc_id,
        questions.chunk_text as anchor_text,
        questions.knowledge_ts as anchor_knowledge_ts,
        answers.chunk_id as positive_chunk_id,
        answers.doc_id as positive_doc_id,
        answers.chunk_text as positive_text,
        answers.knowledge_ts as positive_knowledge_ts,
        questions.ticker,
        questions.fiscal_period
    from questions
    inner join answers
        on questions.doc_id = answers.doc_id
            and answers.turn_idx = questions.turn_idx + 1

)

{{ select_pair_contract('qa_turns', 'pairs') }}
