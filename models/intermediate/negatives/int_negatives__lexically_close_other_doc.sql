-- Rule lexically_close_other_doc: the chunks of other documents that share the most idf weight of rare
-- terms (int_chunk_rare_terms) with the positive. What a keyword search would confuse with the answer:
-- the same product names, figures' labels and jargon, about something else. Ordered by the summed idf.
{%- set n_negatives = var('negatives_per_pair') | int %}
with pair_context as (

    select * from {{ ref('int_negative_pair_context') }}
    where positive_is_chunk

),

candidates as (

    select * from {{ ref('int_negative_candidate_chunks') }}

),

rare_terms as (

    select * from {{ ref('int_chunk_rare_terms') }}

),

candidate_terms as (

    select
        rare_terms.chunk_id,
        rare_terms.token,
        rare_terms.idf,
        candidates.doc_id,
        candidates.text_hash
    from rare_terms
    inner join candidates on rare_terms.chunk_id = candidates.chunk_id

),

lexical_scores as (

    select
        pair_context.pair_id,
        candidate_terms.chunk_id as negative_chunk_id,
        sum(candidate_terms.idf) as score
    from pair_context
    inner join rare_terms as positive_terms on pair_context.positive_chunk_id = positive_terms.chunk_id
    inner join candidate_terms
        on positive_terms.token = candidate_terms.token
            and candidate_terms.doc_id not in (pair_context.anchor_doc_id, pair_context.positive_doc_id)
            and not list_contains(pair_context.excluded_text_hashes, candidate_terms.text_hash)
    group by pair_context.pair_id, candidate_terms.chunk_id

)

select
    pair_id,
    negative_chunk_id,
    score,
    row_number() over (partition by pair_id order by score desc, negative_chunk_id asc) as rule_rank
from lexical_scores
qualify rule_rank <= {{ n_negatives }}
