-- Hard negatives for every training pair (int_pairs_split: split_status = 'train'): one row per
-- (pair, negative), var negatives_per_pair per pair, each with the rule that chose it. Each rule is a
-- model of its own, int_negatives__<rule> (models/intermediate/negatives/), and var negative_rules lists
-- them in priority order: a pair takes the rules' candidates in that order until it has enough
-- (macros/negatives/union_negative_rules.sql). A pair no rule finds a negative for keeps one row with
-- null negative_chunk_id and negative_rule 'none_found' (training_pairs leaves it out; the quality gate
-- reads this model's pair ids and counts it as a pair with 0 negatives, so nothing vanishes unseen).
{%- set n_negatives = var('negatives_per_pair') | int %}
with pairs as (

    select * from {{ ref('int_negative_pair_context') }}

),

all_candidates as (

    {{ union_negative_rules() }}

),

-- what a negative can be: a curated chunk or a labelled passage
documents as (

    select
        chunk_id as document_id,
        doc_id,
        chunk_text as document_text,
        knowledge_ts
    from {{ ref('int_chunks_curated') }}
    union all
    select
        passage_key as document_id,
        {{ labelled_key('labelled_source', 'group_id') }} as doc_id,
        passage_text as document_text,
        knowledge_ts
    from {{ ref('int_labelled_passages') }}

),

-- a chunk found by two rules counts once, for the earlier rule
distinct_candidates as (

    select *
    from all_candidates
    qualify row_number() over (partition by pair_id, negative_chunk_id order by rule_priority, rule_rank) = 1

),

-- numbered after the dedupe: a duplicate must not leave a gap that costs the pair a negative
chosen as (

    select
        pair_id,
        negative_chunk_id,
        negative_rule,
        row_number() over (partition by pair_id order by rule_priority, rule_rank) as negative_rank
    from distinct_candidates

)

select
    md5(pairs.pair_id || '|' || coalesce(negative.document_id, 'none_found')) as example_id,
    pairs.pair_id,
    pairs.strategy,
    pairs.anchor_chunk_id,
    pairs.anchor_doc_id,
    pairs.anchor_text,
    pairs.positive_chunk_id,
    pairs.positive_doc_id,
    pairs.positive_text,
    negative.document_id as negative_chunk_id,
    negative.doc_id as negative_doc_id,
    negative.document_text as negative_text,
    coalesce(chosen.negative_rule, 'none_found') as negative_rule,
    chosen.negative_rank,
    pairs.ticker,
    pairs.fiscal_period,
    greatest(pairs.knowledge_ts, negative.knowledge_ts) as knowledge_ts,
    pairs.strategy_weight
from pairs
left join chosen
    on pairs.pair_id = chosen.pair_id
        and chosen.negative_rank <= {{ n_negatives }}
left join documents as negative on chosen.negative_chunk_id = negative.document_id
