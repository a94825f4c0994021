-- Every unioned pair with its fate, one row per pair (the pair's columns carried, so no reader joins
-- back to int_pairs_unioned); the first rule that applies sets `split_status`:
--   eval                          both chunks in eval-split companies: a held-out evaluation pair
--   excluded_eval_self_span       an eval pair whose anchor is a span of the positive chunk itself
--                                 (filing_headings): the eval corpus holds whole chunks, so the query
--                                 would find its own text; kept out of evaluation
--   excluded_crosses_split        anchor and positive on different sides of the split
--   excluded_eval_document        a chunk of a document that also holds eval-split chunks
--   excluded_after_cutoff         a text not public before var training_cutoff (point in time)
--   excluded_near_eval_duplicate  a chunk near-duplicates an eval chunk (int_chunk_splits)
-- Both sides are looked up in int_document_splits (curated chunks and labelled passages alike); an anchor
-- that is no document (a taxonomy description, a labelled question) follows its positive.
--   excluded_by_weight            outside the strategy's weight sample: stable_fraction(pair_id) >= weight
--   train                         a training pair (gets hard negatives next)
with pairs as (

    select * from {{ ref('int_pairs_unioned') }}

),

document_splits as (

    select * from {{ ref('int_document_splits') }}

),

joined as (

    select
        pairs.*,
        anchor_split.split as anchor_split,
        positive_split.split as positive_split,
        coalesce(anchor_split.is_eval_document, false) or positive_split.is_eval_document as touches_eval_document,
        coalesce(anchor_split.is_before_cutoff, true) and positive_split.is_before_cutoff
        and pairs.knowledge_ts < {{ training_cutoff() }} as is_before_cutoff,
        anchor_split.near_eval_chunk_id is not null
        or positive_split.near_eval_chunk_id is not null as has_near_eval_duplicate,
        {{ stable_fraction('pairs.pair_id', 'strategy_weight') }} as weight_fraction
    from pairs
    left join document_splits as anchor_split on pairs.anchor_chunk_id = anchor_split.document_id
    inner join document_splits as positive_split on pairs.positive_chunk_id = positive_split.document_id

)

select
    pair_id,
    strategy,
    anchor_chunk_id,
    anchor_doc_id,
    anchor_text,
    positive_chunk_id,
    positive_doc_id,
    positive_text,
    ticker,
    fiscal_period,
    knowledge_ts,
    strategy_weight,
    weight_fraction,
    case
        when positive_split = 'eval' and coalesce(anchor_split, 'eval') = 'eval' and anchor_chunk_id = positive_chunk_id
            then 'excluded_eval_self_span'
        when positive_split = 'eval' and coalesce(anchor_split, 'eval') = 'eval' then 'eval'
        when positive_split <> coalesce(anchor_split, positive_split) then 'excluded_crosses_split'
        when touches_eval_document then 'excluded_eval_document'
        when not is_before_cutoff then 'excluded_after_cutoff'
        when has_near_eval_duplicate then 'excluded_near_eval_duplicate'
        when weight_fraction >= strategy_weight then 'excluded_by_weight'
        else 'train'
    end as split_status
from joined
