-- Rule same_source_other_group: for a pair whose positive is a labelled passage, a trainable passage of
-- the same labelled source from another group (another report): the same kind of table or paragraph
-- about other figures. A pair draws from its own hash bucket of the source's passages (negative_bucket),
-- so the negatives spread over the source.
{%- set n_negatives = var('negatives_per_pair') | int %}
with pair_context as (

    select * from {{ ref('int_negative_pair_context') }}

),

labelled_candidates as (

    select * from {{ ref('int_negative_labelled_candidates') }}

),

labelled_sizes as (

    select
        labelled_source,
        {{ negative_bucket_count() }} as n_buckets
    from labelled_candidates
    group by labelled_source

),

labelled_pool as (

    select
        labelled_candidates.*,
        {{ negative_bucket('labelled_candidates.passage_key', 'labelled_sizes.n_buckets') }} as bucket
    from labelled_candidates
    inner join labelled_sizes on labelled_candidates.labelled_source = labelled_sizes.labelled_source

),

-- a pair whose positive is not a labelled passage has a null source: it joins nothing
pair_buckets as (

    select
        pair_context.pair_id,
        pair_context.positive_labelled_source as labelled_source,
        pair_context.positive_group_id as group_id,
        {{ negative_bucket('pair_context.pair_id', 'labelled_sizes.n_buckets') }} as bucket
    from pair_context
    inner join labelled_sizes on pair_context.positive_labelled_source = labelled_sizes.labelled_source

)

select
    pair_buckets.pair_id,
    labelled_pool.passage_key as negative_chunk_id,
    row_number() over (
        partition by pair_buckets.pair_id
        order by {{ stable_fraction("pair_buckets.pair_id || labelled_pool.passage_key", 'negative_pick') }}
    ) as rule_rank
from pair_buckets
inner join labelled_pool
    on pair_buckets.labelled_source = labelled_pool.labelled_source
        and pair_buckets.bucket = labelled_pool.bucket
        and pair_buckets.group_id <> labelled_pool.group_id
qualify rule_rank <= {{ n_negatives }}
