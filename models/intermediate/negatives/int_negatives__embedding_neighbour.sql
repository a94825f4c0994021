-- Rule embedding_neighbour (round 2, var hard_negative_round: 2): the trainable chunks a previous run's
-- model puts nearest the pair, mined with the vectors it wrote back (stg_embeddings__chunk_embeddings).
-- What the model itself still confuses is what it has most to learn from. For every training pair whose
-- positive is a curated chunk: the chunks of the same company and kind (transcript/filing), from neither
-- the anchor's nor the positive's document nor with the text of either side, nearest the query: the
-- anchor's vector when the anchor is a chunk, else the positive's. False-negative guard: a candidate must
-- score at least var embedding_negative_margin below the positive (similarity to the query), so a chunk
-- that answers the anchor as well as the positive does is never taught as wrong. In round 1 there are no
-- vectors to read (stg_embeddings__chunk_embeddings is built in round 2 only): the model is empty.
{%- set n_negatives = var('negatives_per_pair') | int %}
with pair_context as (

    select * from {{ ref('int_negative_pair_context') }}
    where positive_is_chunk

),

candidate_chunks as (

    select * from {{ ref('int_negative_candidate_chunks') }}

),

vectors as (

    {%- if var('hard_negative_round') == 2 %}
        select * from {{ ref('stg_embeddings__chunk_embeddings') }}
    {%- else %}
        select
            cast(null as varchar) as chunk_id,
            cast(null as float[]) as embedding
        where false
    {%- endif %}

),

pair_queries as (

    select
        pair_context.pair_id,
        pair_context.ticker,
        pair_context.anchor_doc_id,
        pair_context.positive_doc_id,
        pair_context.positive_kind,
        pair_context.excluded_text_hashes,
        coalesce(anchor_vector.embedding, positive_vector.embedding) as query_embedding,
        list_cosine_similarity(
            coalesce(anchor_vector.embedding, positive_vector.embedding), positive_vector.embedding
        ) as positive_similarity
    from pair_context
    inner join vectors as positive_vector on pair_context.positive_chunk_id = positive_vector.chunk_id
    left join vectors as anchor_vector on pair_context.anchor_chunk_id = anchor_vector.chunk_id

),

candidates as (

    select
        candidate_chunks.*,
        vectors.embedding
    from candidate_chunks
    inner join vectors on candidate_chunks.chunk_id = vectors.chunk_id

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
            and pair_queries.positive_kind = candidates.chunk_kind
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
qualify rule_rank <= {{ n_negatives }}
