-- Round-2 hard negatives (var hard_negative_round: 2), mined with the vectors a previous run wrote back
-- (stg_embeddings__chunk_embeddings): for every training pair whose positive is a curated chunk, the
-- trainable chunks of the same company and kind (transcript/filing), from neither the anchor's nor the
-- positive's document nor with the text of either side (excluded_negative_text_hashes, as in round 1),
-- that the previous model puts nearest the query: the anchor's vector when the anchor is a chunk, else
-- the positive's. False-negative guard: a candidate must score at least var embedding_negative_margin
-- below the positive (similarity to the query), so a chunk that answers the anchor as well as the
-- positive does is never taught as wrong. One row per (pair, negative), the var negatives_per_pair
-- nearest, ranked.
{{ config(enabled=var('hard_negative_round') == 2) }}

with pairs as (

    select pairs.*
    from {{ ref('int_pairs_unioned') }} as pairs
    inner join {{ ref('int_pairs_split') }} as splits on pairs.pair_id = splits.pair_id
    where splits.split_status = 'train'

),

vectors as (

    select * from {{ ref('stg_embeddings__chunk_embeddings') }}

),

chunks as (

    select * from {{ ref('int_chunks_curated') }}

),

pair_queries as (

    select
        pairs.pair_id,
        pairs.ticker,
        pairs.anchor_doc_id,
        pairs.positive_doc_id,
        positive.chunk_kind,
        {{ excluded_negative_text_hashes('pairs', 'anchor', 'positive') }} as excluded_text_hashes,
        coalesce(anchor_vector.embedding, positive_vector.embedding) as query_embedding,
        list_cosine_similarity(
            coalesce(anchor_vector.embedding, positive_vector.embedding), positive_vector.embedding
        ) as positive_similarity
    from pairs
    inner join chunks as positive on pairs.positive_chunk_id = positive.chunk_id
    inner join vectors as positive_vector on pairs.positive_chunk_id = positive_vector.chunk_id
    left join chunks as anchor on pairs.anchor_chunk_id = anchor.chunk_id
    left join vectors as anchor_vector on pairs.anchor_chunk_id = anchor_vector.chunk_id

),

candidates as (

    select
        chunks.chunk_id,
        chunks.doc_id,
        chunks.ticker,
        chunks.chunk_kind,
        chunks.text_hash,
        vectors.embedding
    from chunks
    inner join {{ ref('int_chunk_splits') }} as splits on chunks.chunk_id = splits.chunk_id
    inner join vectors on chunks.chunk_id = vectors.chunk_id
    where splits.is_trainable

),

scored as (

    select
        pair_queries.pair_id,
        candidates.chunk_id as negative_chunk_id,
        list_cosine_similarity(pair_queries.query_embedding, candidates.embedding) as similarity,
        pair_queries.positive_similarity
    from pair_queries
    inner join candidates
        on pair_queries.ticker = candidates.ticker
            and pair_queries.chunk_kind = candidates.chunk_kind
            and candidates.doc_id not in (pair_queries.anchor_doc_id, pair_queries.positive_doc_id)
            and not list_contains(pair_queries.excluded_text_hashes, candidates.text_hash)

)

select
    pair_id,
    negative_chunk_id,
    similarity,
    positive_similarity,
    row_number() over (partition by pair_id order by similarity desc, negative_chunk_id asc) as rule_rank
from scored
where similarity < positive_similarity - {{ number_var('embedding_negative_margin') }}
qualify rule_rank <= {{ number_var('negatives_per_pair') }}
