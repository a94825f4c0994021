-- Transcript and filing chunks in one shape, one row per raw chunk (nothing is dropped here).
-- Filings name companies, not tickers: the seed company_tickers maps the normalised company name to
-- a ticker; a filing company the seed does not know keeps no ticker and is quarantined downstream.
-- Incremental (macros/incremental/chunk_increments.sql): new and changed chunk versions only; after a
-- change to the seed company_tickers, rebuild with --full-refresh.
{{ config(
    post_hook="{{ delete_chunks_not_in([ref('stg_raw__transcript_chunks'), ref('stg_raw__filing_chunks')]) }}",
    **chunk_increment_config()
) }}

with transcripts as (

    select
        chunk_id,
        doc_id,
        'transcript' as chunk_kind,
        source_dataset,
        ticker as raw_ticker,
        company,
        fiscal_period,
        chunk_idx,
        chunk_text,
        cast(null as varchar[]) as chunk_paragraphs,
        text_length,
        text_hash,
        boilerplate_kind,
        knowledge_ts,
        ingested_at,
        section,
        speaker,
        speaker_role,
        turn_idx,
        cast(null as varchar) as form_type,
        cast(null as varchar) as item,
        cast(null as integer) as page
    from {{ ref('stg_raw__transcript_chunks') }} as staged
    where {{ unseen_chunk_versions('staged') }}

),

filings as (

    select
        chunk_id,
        doc_id,
        'filing' as chunk_kind,
        source_dataset,
        ticker as raw_ticker,
        company,
        fiscal_period,
        chunk_idx,
        chunk_text,
        chunk_paragraphs,
        text_length,
        text_hash,
        boilerplate_kind,
        knowledge_ts,
        ingested_at,
        coalesce(item, 'page') as section,
        cast(null as varchar) as speaker,
        cast(null as varchar) as speaker_role,
        cast(null as integer) as turn_idx,
        form_type,
        item,
        page
    from {{ ref('stg_raw__filing_chunks') }} as staged
    where {{ unseen_chunk_versions('staged') }}

),

company_tickers as (

    select
        {{ normalized_company_name('company_name') }} as company_key,
        upper(trim(ticker)) as ticker
    from {{ ref('company_tickers') }}

),

unioned as (

    select * from transcripts
    union all
    select * from filings

),

resolved as (

    select
        unioned.*,
        -- A filing whose ticker column holds its company name (the loader's fallback) takes the
        -- seed's ticker; a real ticker from the source is kept as it is.
        case
            when unioned.chunk_kind = 'filing'
                and (
                    unioned.raw_ticker is null
                    or {{ normalized_company_name('unioned.raw_ticker') }}
                    = {{ normalized_company_name('coalesce(unioned.company, unioned.raw_ticker)') }}
                )
                then by_company.ticker
            else nullif(unioned.raw_ticker, '')
        end as ticker
    from unioned
    left join company_tickers as by_company
        on {{ normalized_company_name('coalesce(unioned.company, unioned.raw_ticker)') }} = by_company.company_key

)

select
    chunk_id,
    doc_id,
    chunk_kind,
    source_dataset,
    raw_ticker,
    ticker,
    company,
    fiscal_period,
    try_cast(regexp_extract(fiscal_period, '(19|20)\d{2}', 0) as integer) as fiscal_year,
    chunk_idx,
    chunk_text,
    chunk_paragraphs,
    text_length,
    text_hash,
    boilerplate_kind,
    knowledge_ts,
    ingested_at,
    section,
    speaker,
    speaker_role,
    turn_idx,
    form_type,
    item,
    page
from resolved
