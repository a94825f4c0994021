-- Evaluation by company: every ticker of a curated chunk is in exactly one split. A ticker is held out
-- for evaluation when stable_fraction(ticker) < var eval_fraction (md5 of 'eval_split|<ticker>', first 32
-- bits over 2^32): deterministic, the same on every machine, and stable as the corpus grows (a company
-- never moves split when other companies are added). Splitting by company rather than by chunk or
-- document keeps a company's calls, filings and near-identical yearly boilerplate on one side.
with tickers as (

    select distinct ticker
    from {{ ref('int_chunks_curated') }}

)

select
    ticker,
    {{ stable_fraction('ticker', 'eval_split') }} as split_fraction,
    case
        when {{ stable_fraction('ticker', 'eval_split') }} < {{ number_var('eval_fraction') }} then 'eval'
        else 'train'
    end as split
from tickers
