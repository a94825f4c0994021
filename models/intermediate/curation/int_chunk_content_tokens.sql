-- The distinct content words of every chunk with text, one row per (chunk, word): lower-case runs of
-- a-z0-9 of two characters or more, function words dropped. Tokenised once here, then reused by the
-- near-duplicate signatures (int_chunk_minhash) and the rare-term overlap of hard negatives.
-- Incremental (macros/incremental/chunk_increments.sql): a chunk's words depend on its text only, which its
-- chunk_id hashes, so only chunk_ids not tokenised yet are.
{{ config(
    post_hook="{{ delete_chunks_not_in([ref('int_chunks_unioned')]) }}",
    **chunk_increment_config()
) }}

with words as (

    select
        chunks.chunk_id,
        unnest({{ split_words('chunks.chunk_text') }}) as token
    from {{ ref('int_chunks_unioned') }} as chunks
    where chunks.text_length > 0 and {{ unseen_chunk_versions('chunks', with_ingested_at=false) }}

)

select
    chunk_id,
    token
from words
where {{ is_content_word('token') }}
