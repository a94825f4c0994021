-- Strategy prepared_remarks_headlines: in a call's prepared remarks, the first sentence of a chunk
-- that states a figure (the headline, after any greeting) -> the rest of the chunk, which explains it.
-- Chunks whose headline is their last sentence have nothing to explain it: no pair.
with remarks as (

    select
        *,
        {{ sentences('chunk_text') }} as chunk_sentences
    from {{ ref('int_chunks_curated') }}
    where chunk_kind = 'transcript' and section = 'prepared_remarks'

),

headlines as (

    select
        *,
        coalesce(
            list_position(list_transform(chunk_sentences, sentence -> regexp_matches(sentence, '[0-9]')), true),
            0
        ) as headline_no
    from remarks

),

pairs as (

    select
        {{ chunk_pair_columns(
            'headlines', 'headlines',
            anchor_text='headlines.chunk_sentences[headlines.headline_no]',
            positive_text="array_to_string(list_slice(headlines.chunk_sentences, headlines.headline_no + 1, len(headlines.chunk_sentences)), ' ')"
        ) }}
    from headlines
    where headlines.headline_no between 1 and len(headlines.chunk_sentences) - 1

)

{{ select_pair_contract('prepared_remarks_headlines', 'pairs') }}
