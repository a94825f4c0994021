-- Training examples: one row per (training pair, hard negative);
-- example_id = md5(pair_id || '|' || negative_chunk_id).
-- Only train-split companies, text public before var training_cutoff, no eval document or eval near
-- duplicate (int_pairs_split, int_chunk_splits); checked again by the tests in _marts.yml and by the
-- Great Expectations gate (training_pairs_quality_gate) before any training reads it. Pairs that found no
-- negative (negative_rule 'none_found') are left out here; the gate counts them from
-- int_pairs_with_hard_negatives as pairs with 0 negatives, so its negatives checks can fail.
select
    pair_id,
    example_id,
    strategy,
    anchor_text,
    positive_text,
    negative_text,
    negative_rule,
    anchor_chunk_id,
    anchor_doc_id,
    positive_chunk_id,
    positive_doc_id,
    negative_chunk_id,
    negative_doc_id,
    ticker,
    fiscal_period,
    knowledge_ts
from {{ ref('int_pairs_with_hard_negatives') }}
where negative_chunk_id is not null
