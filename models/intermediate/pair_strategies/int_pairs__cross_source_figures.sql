-- Strategy cross_source_figures: a transcript statement -> the filing passage of the same company and
-- period that reports the same figures.
--   * same ticker, and the filing's period is the call's quarter or its fiscal year (a 2016Q3 call
--     and the FY2016 10-K);
--   * they share >= var cross_source_min_shared_figures specific figures (int_chunk_figures: two
--     significant digits or more and a decimal part or three digits, so "0.57" and "210" count but
--     "12" and "0.07" do not), scoring >= var cross_source_min_figure_score, a figure scoring its
--     significant digits up to 4: "$175 billion to $210 billion" (3 + 2) with "$0.57 to $0.63"
--     (2 + 2) scores 9. (On the shared corpus, coincidences of small counts were the false matches.)
--   * mutual best matches only: the transcript chunk's best filing passage (highest score, then most
--     figures, then chunk id) whose best transcript chunk it is in turn, so no chunk is in two pairs.
with figures as (

    select *
    from {{ ref('int_chunk_figures') }}
    where is_specific and section <> 'summary_bullet'

),

shared as (

    select
        spoken.chunk_id as statement_chunk_id,
        passage.chunk_id as passage_chunk_id,
        count(*) as n_shared_figures,
        sum(least(spoken.significant_digits, 4)) as figure_score
    from figures as spoken
    inner join figures as passage
        on spoken.ticker = passage.ticker
            and spoken.figure = passage.figure
            and (
                spoken.fiscal_period = passage.fiscal_period
                or passage.fiscal_period = 'FY' || cast(spoken.fiscal_year as varchar)
            )
    where spoken.chunk_kind = 'transcript' and passage.chunk_kind = 'filing'
    group by spoken.chunk_id, passage.chunk_id
    having
        count(*) >= {{ number_var('cross_source_min_shared_figures') }}
        and sum(least(spoken.significant_digits, 4)) >= {{ number_var('cross_source_min_figure_score') }}

),

best as (

    select *
    from shared
    qualify row_number() over (
            partition by statement_chunk_id order by figure_score desc, n_shared_figures desc, passage_chunk_id asc
        ) = 1
        and row_number() over (
            partition by passage_chunk_id order by figure_score desc, n_shared_figures desc, statement_chunk_id asc
        ) = 1

),

chunks as (

    select * from {{ ref('int_chunks_curated') }}

),

pairs as (

    select
        spoken.chunk_id as anchor_chunk_id,
        spoken.doc_id as anchor_doc_id,
        spoken.chunk_text as anchor_text,
        spoken.knowledge_ts as anchor_knowledge_ts,
        passage.chunk_id as positive_chunk_id,
        passage.doc_id as positive_doc_id,
        passage.chunk_text as positive_text,
        passage.knowledge_ts as positive_knowledge_ts,
        spoken.ticker,
        spoken.fiscal_period
    from best
    inner join chunks as spoken on best.statement_chunk_id = spoken.chunk_id
    inner join chunks as passage on best.passage_chunk_id = passage.chunk_id

)

{{ select_pair_contract('cross_source_figures', 'pairs') }}
