-- The training pairs (int_pairs_split: split_status = 'train') with what the negative rules match on, one
-- row per pair: what a negative must differ from (the anchor's and the positive's documents, and the text
-- hashes of either side: excluded_negative_text_hashes), the positive chunk's period, kind and section
-- (rules on curated chunks), and the positive passage's labelled source and group (rules on labelled
-- passages). A pair's positive is a curated chunk or a labelled passage: the other side's columns are null.
with pairs as (

    select *
    from {{ ref('int_pairs_split') }}
    where split_status = 'train'

),

chunks as (

    select * from {{ ref('int_chunks_curated') }}

),

labelled_passages as (

    select * from {{ ref('int_labelled_passages') }}

)

select
    pairs.pair_id,
    pairs.strategy,
    pairs.anchor_chunk_id,
    pairs.anchor_doc_id,
    pairs.anchor_text,
    pairs.positive_chunk_id,
    pairs.positive_doc_id,
    pairs.positive_text,
    pairs.ticker,
    pairs.fiscal_period,
    pairs.knowledge_ts,
    pairs.strategy_weight,
    {{ excluded_negative_text_hashes('pairs', 'anchor', 'positive') }} as excluded_text_hashes,
    positive.chunk_id is not null as positive_is_chunk,
    anchor.fiscal_period as anchor_fiscal_period,
    positive.fiscal_period as positive_fiscal_period,
    positive.chunk_kind as positive_kind,
    positive.section as positive_section,
    positive_passage.labelled_source as positive_labelled_source,
    positive_passage.group_id as positive_group_id
from pairs
left join chunks as anchor on pairs.anchor_chunk_id = anchor.chunk_id
left join chunks as positive on pairs.positive_chunk_id = positive.chunk_id
left join labelled_passages as positive_passage on pairs.positive_chunk_id = positive_passage.passage_key
