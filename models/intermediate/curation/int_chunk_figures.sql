-- The figures each curated chunk states (macros/text/extract_figures.sql), one row per (chunk, figure):
-- what the summary-bullet and cross-source pair strategies match on. `significant_digits` says how
-- specific a figure is: "481.1" has 4, "11.1" 3, "0.57" 2, "0.07", "10" and "1000" only 1 (leading zeros
-- and a whole number's trailing zeros do not count): a shared 481.1 means more than a shared 10.
-- `is_specific`: at least two significant digits and a decimal part or three digits ("0.57", "175",
-- "210"), not a bare two-digit count ("12", "24": months, stores, percentages of anything).
with figures as (

    select
        chunk_id,
        doc_id,
        chunk_kind,
        section,
        ticker,
        fiscal_period,
        fiscal_year,
        unnest({{ extract_figures('chunk_text') }}) as figure
    from {{ ref('int_chunks_curated') }}

),

digits as (

    select
        *,
        length(
            ltrim(replace(case when contains(figure, '.') then figure else rtrim(figure, '0') end, '.', ''), '0')
        ) as significant_digits
    from figures

)

select
    chunk_id,
    doc_id,
    chunk_kind,
    section,
    ticker,
    fiscal_period,
    fiscal_year,
    figure,
    significant_digits,
    significant_digits >= 2 and (contains(figure, '.') or length(figure) >= 3) as is_specific
from digits
