-- Rule same_company_other_period: the pair's own company in a fiscal period neither text is from. The
-- same company's other quarter reads alike (its products, its people, its metrics) but answers another
-- period's question: the model learns that "this quarter's margin" is not last year's. Candidates of the
-- positive's kind (transcript/filing) and section first, then a fixed hash order; a few chunks of each
-- (company, period, kind, section) are drawn, so one long filing does not fill every pair.
{%- set n_negatives = var('negatives_per_pair') | int %}
with pair_context as (

    select * from {{ ref('int_negative_pair_context') }}
    where positive_is_chunk

),

candidates as (

    select * from {{ ref('int_negative_candidate_chunks') }}

),

company_pool as (

    select
        chunk_id,
        doc_id,
        ticker,
        fiscal_period,
        chunk_kind,
        section,
        text_hash
    from candidates
    qualify row_number() over (
            partition by ticker, fiscal_period, chunk_kind, section
            order by {{ stable_fraction('chunk_id', 'negative_pool') }}
        ) <= {{ n_negatives + 2 }}

)

select
    pair_context.pair_id,
    company_pool.chunk_id as negative_chunk_id,
    row_number() over (
        partition by pair_context.pair_id
        order by
            company_pool.chunk_kind = pair_context.positive_kind desc,
            company_pool.section = pair_context.positive_section desc,
            {{ stable_fraction("pair_context.pair_id || company_pool.chunk_id", 'negative_pick') }}
    ) as rule_rank
from pair_context
inner join company_pool
    on pair_context.ticker = company_pool.ticker
        and pair_context.positive_fiscal_period <> company_pool.fiscal_period
        and company_pool.fiscal_period <> coalesce(pair_context.anchor_fiscal_period, '')
        and company_pool.doc_id not in (pair_context.anchor_doc_id, pair_context.positive_doc_id)
        and not list_contains(pair_context.excluded_text_hashes, company_pool.text_hash)
qualify rule_rank <= {{ n_negatives }}
