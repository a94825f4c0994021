-- The distinct content words of every chunk with text, one row per (chunk, word): lower-case runs of
-- a-z0-9 of two characters or more, function words dropped. Tokenised once here, then reused by the
-- near-duplicate signatures (int_chunk_minhash) and the rare-term overlap of hard negatives.
with words as (

    select
        chunk_id,
        unnest({{ split_words('chunk_text') }}) as token
    from {{ ref('int_chunks_unioned') }}
    where text_length > 0

)

select
    chunk_id,
    token
from words
where {{ is_content_word('token') }}
