-- Incremental (macros/incremental/chunk_increments.sql): only the raw chunk versions not cleaned yet are read
-- and cleaned; chunks the raw table no longer holds (a replaced document's) are deleted after.
{{ config(
    post_hook="{{ delete_chunks_not_in([source('raw', 'transcript_chunks')]) }}",
    **chunk_increment_config()
) }}

with source as (

    select *
    from {{ source('raw', 'transcript_chunks') }} as raw_chunks
    where {{ unseen_chunk_versions('raw_chunks') }}

),

cleaned as (

    select
        chunk_id,
        doc_id,
        source_dataset,
        upper(trim(ticker)) as ticker,
        nullif(trim(company), '') as company,
        upper(trim(fiscal_period)) as fiscal_period,
        chunk_idx,
        {{ clean_text('chunk_text') }} as chunk_text,
        cast(knowledge_ts as timestamp) as knowledge_ts,
        cast(ingested_at as timestamp with time zone) as ingested_at,
        coalesce(lower(trim(section)), 'unknown') as section,
        nullif(trim(speaker), '') as speaker,
        coalesce(lower(trim(speaker_role)), 'unknown') as speaker_role,
        turn_idx
    from source

)

select
    *,
    {{ normalized_text_hash('chunk_text') }} as text_hash,
    {{ boilerplate_kind('chunk_text', 'speaker_role') }} as boilerplate_kind,
    coalesce(length(chunk_text), 0) as text_length
from cleaned
