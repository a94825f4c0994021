-- Nothing vanishes silently: every raw chunk (both staging models) is either curated
-- (int_chunks_curated) or quarantined (rejected_chunks), never both, never neither.
-- Returns one row per chunk that breaks this, plus a totals row when the counts disagree.
with raw_chunks as (

    select chunk_id from {{ ref('stg_raw__transcript_chunks') }}
    union all
    select chunk_id from {{ ref('stg_raw__filing_chunks') }}

),

kept as (

    select chunk_id from {{ ref('int_chunks_curated') }}

),

quarantined as (

    select chunk_id from {{ ref('rejected_chunks') }}

),

accounted as (

    select
        chunk_id,
        'kept' as outcome
    from kept
    union all
    select
        chunk_id,
        'quarantined' as outcome
    from quarantined

),

per_chunk as (

    select
        coalesce(raw_chunks.chunk_id, accounted.chunk_id) as chunk_id,
        count(raw_chunks.chunk_id) as n_raw,
        count(accounted.chunk_id) as n_accounted,
        string_agg(accounted.outcome, ',') as outcomes
    from raw_chunks
    full outer join accounted on raw_chunks.chunk_id = accounted.chunk_id
    group by coalesce(raw_chunks.chunk_id, accounted.chunk_id)

),

raw_count as (

    select count(*) as rows_in from raw_chunks

),

kept_count as (

    select count(*) as rows_kept from kept

),

quarantined_count as (

    select count(*) as rows_quarantined from quarantined

),

totals as (

    select
        raw_count.rows_in,
        kept_count.rows_kept,
        quarantined_count.rows_quarantined
    from raw_count
    cross join kept_count
    cross join quarantined_count

)

select
    chunk_id,
    cast(n_raw as bigint) as rows_in,
    cast(n_accounted as bigint) as rows_out,
    outcomes as detail
from per_chunk
where n_raw <> 1 or n_accounted <> 1

union all

select
    'TOTAL' as chunk_id,
    rows_in,
    rows_kept + rows_quarantined as rows_out,
    rows_kept || ' kept + ' || rows_quarantined || ' quarantined' as detail
from totals
where rows_in <> rows_kept + rows_quarantined
