-- Every chunk with every reason it fails curation, one row per raw chunk (nothing is dropped here).
-- Reasons, in priority order (the first one found is `reason`; all of them are `reasons`):
--   missing_text                                 text null or empty
--   control_characters                           text holding a control character after cleaning (which
--                                                turns tabs and line breaks into spaces): binary junk, such
--                                                as a PDF page extracted as glyph codes, or a JSON \u0000
--   too_short, too_long                          text outside var min/max_chunk_chars
--   unknown_ticker, malformed_ticker             no ticker (or a filing company the seed cannot map),
--                                                or one that fails var ticker_regex
--   malformed_period                             fiscal_period null or failing var fiscal_period_regex
--   missing_knowledge_ts, future_knowledge_ts    no knowledge_ts, or one after as_of_ts (the build's clock)
--   operator_line, safe_harbour,
--   table_of_contents, page_header               boilerplate: the staging boilerplate_kind
--   exact_duplicate                              same text_hash as a chunk ranked earlier
--   near_duplicate                               content-word MinHash estimate >= var near_duplicate_jaccard
--                                                with the first chunk of a shared LSH band (ranked earlier)
-- "Earlier" ranks chunks without row-level problems first, then by knowledge_ts, ingested_at, chunk_id:
-- of a set of copies, the first clean one that became public is kept.
with chunks as (

    select * from {{ ref('int_chunks_unioned') }}

),

row_checks as (

    select
        chunk_id,
        text_hash,
        knowledge_ts,
        ingested_at,
        text_length,
        list_filter(
            [
                case when chunk_text is null or text_length = 0 then 'missing_text' end,
                case when regexp_matches(chunk_text, '[\x00-\x1f\x7f]') then 'control_characters' end,
                case when text_length > 0 and text_length < {{ number_var('min_chunk_chars') }} then 'too_short' end,
                case when text_length > {{ number_var('max_chunk_chars') }} then 'too_long' end,
                case when ticker is null or trim(ticker) = '' then 'unknown_ticker' end,
                case
                    when ticker is not null and trim(ticker) <> ''
                        and not regexp_full_match(ticker, {{ sql_string(var('ticker_regex')) }})
                        then 'malformed_ticker'
                end,
                case
                    when fiscal_period is null
                        or not regexp_full_match(fiscal_period, {{ sql_string(var('fiscal_period_regex')) }})
                        or fiscal_year > year({{ as_of_ts() }}) + 1
                        then 'malformed_period'
                end,
                case when knowledge_ts is null then 'missing_knowledge_ts' end,
                case when knowledge_ts > {{ as_of_ts() }} then 'future_knowledge_ts' end,
                boilerplate_kind
            ],
            reason -> reason is not null
        ) as row_reasons
    from chunks

),

ranked as (

    select
        *,
        row_number() over (
            order by len(row_reasons) > 0, knowledge_ts nulls last, ingested_at, chunk_id
        ) as curation_rank
    from row_checks

),

exact_duplicates as (

    select
        chunk_id,
        first_value(chunk_id) over (partition by text_hash order by curation_rank) as first_chunk_id
    from ranked
    where text_length > 0
    qualify first_chunk_id <> chunk_id

),

-- Near duplicates are looked for among first copies only (exact copies are already accounted for).
signatures as (

    select
        minhash.*,
        ranked.curation_rank
    from {{ ref('int_chunk_minhash') }} as minhash
    inner join ranked on minhash.chunk_id = ranked.chunk_id
    left join exact_duplicates on minhash.chunk_id = exact_duplicates.chunk_id
    where exact_duplicates.chunk_id is null

),

bands as (

    {{ unpivot_minhash_bands('signatures', ['curation_rank']) }}

),

band_leaders as (

    select
        band_no,
        band_key,
        arg_min(chunk_id, curation_rank) as leader_chunk_id
    from bands
    group by band_no, band_key
    having count(*) > 1

),

near_duplicates as (

    select
        bands.chunk_id,
        -- the most similar leader; of equally similar ones the first ranked (a tie left to row order
        -- would differ between an incremental and a full build)
        arg_min(
            band_leaders.leader_chunk_id,
            (-{{ minhash_agreement('member.signature', 'leader.signature') }}, leader.curation_rank)
        ) as first_chunk_id
    from bands
    inner join band_leaders
        on bands.band_no = band_leaders.band_no
            and bands.band_key = band_leaders.band_key
    inner join signatures as member on bands.chunk_id = member.chunk_id
    inner join signatures as leader on band_leaders.leader_chunk_id = leader.chunk_id
    where
        band_leaders.leader_chunk_id <> bands.chunk_id
        and {{ minhash_agreement('member.signature', 'leader.signature') }}
        >= {{ number_var('near_duplicate_jaccard') }}
    group by bands.chunk_id

),

flagged as (

    select
        ranked.chunk_id,
        ranked.curation_rank,
        list_concat(
            ranked.row_reasons,
            case when exact_duplicates.chunk_id is not null then ['exact_duplicate'] else [] end,
            case when near_duplicates.chunk_id is not null then ['near_duplicate'] else [] end
        ) as reasons,
        coalesce(exact_duplicates.first_chunk_id, near_duplicates.first_chunk_id) as duplicate_of_chunk_id
    from ranked
    left join exact_duplicates on ranked.chunk_id = exact_duplicates.chunk_id
    left join near_duplicates on ranked.chunk_id = near_duplicates.chunk_id

)

select
    chunk_id,
    curation_rank,
    len(reasons) > 0 as is_rejected,
    reasons[1] as reason,
    cast(reasons as varchar[]) as reasons,
    duplicate_of_chunk_id
from flagged
