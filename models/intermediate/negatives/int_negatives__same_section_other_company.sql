-- Rule same_section_other_company: the positive's section (q_and_a, item_1a, ...) of another company.
-- Another firm's risk factors or Q&A share the section's vocabulary and shape but not its facts. A pair
-- draws from its own hash bucket of the section's chunks (negative_bucket), so the negatives spread over
-- the section rather than always being the same few chunks.
{%- set n_negatives = var('negatives_per_pair') | int %}
with pair_context as (

    select * from {{ ref('int_negative_pair_context') }}
    where positive_is_chunk

),

candidates as (

    select * from {{ ref('int_negative_candidate_chunks') }}

),

section_sizes as (

    select
        section,
        {{ negative_bucket_count() }} as n_buckets
    from candidates
    group by section

),

section_pool as (

    select
        candidates.chunk_id,
        candidates.doc_id,
        candidates.ticker,
        candidates.section,
        candidates.text_hash,
        {{ negative_bucket('candidates.chunk_id', 'section_sizes.n_buckets') }} as bucket
    from candidates
    inner join section_sizes on candidates.section = section_sizes.section

),

pair_buckets as (

    select
        pair_context.*,
        {{ negative_bucket('pair_context.pair_id', 'section_sizes.n_buckets') }} as bucket
    from pair_context
    inner join section_sizes on pair_context.positive_section = section_sizes.section

)

select
    pair_buckets.pair_id,
    section_pool.chunk_id as negative_chunk_id,
    row_number() over (
        partition by pair_buckets.pair_id
        order by {{ stable_fraction("pair_buckets.pair_id || section_pool.chunk_id", 'negative_pick') }}
    ) as rule_rank
from pair_buckets
inner join section_pool
    on pair_buckets.positive_section = section_pool.section
        and pair_buckets.bucket = section_pool.bucket
where
    section_pool.ticker <> pair_buckets.ticker
    and section_pool.doc_id not in (pair_buckets.anchor_doc_id, pair_buckets.positive_doc_id)
    and not list_contains(pair_buckets.excluded_text_hashes, section_pool.text_hash)
qualify rule_rank <= {{ n_negatives }}
