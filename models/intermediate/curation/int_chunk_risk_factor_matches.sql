-- Which risk factors of the seed risk_factor_taxonomy each curated chunk discusses: one row per
-- (chunk, factor) whose `patterns` regex matches the lower-cased text, with the number of matches.
-- The patterns are read from the seed when the model runs and written into the SQL as constants:
-- DuckDB compiles a constant regex once, but a pattern taken from a joined column once per row,
-- which made the join ~70x slower. (tests/data_tests/assert_risk_factor_matches_follow_the_seed.sql
-- checks the constants against the seed, row-wise, on a sample of chunks.)
-- depends_on: {{ ref('risk_factor_taxonomy') }}
{%- set factors = [] %}
{%- if execute %}
    {%- set taxonomy = run_query(
        "select trim(risk_factor), lower(trim(patterns)) from " ~ ref('risk_factor_taxonomy') ~ " order by 1"
    ) %}
    {%- for row in taxonomy.rows %}
        {%- do factors.append({'name': row[0], 'pattern': row[1]}) %}
    {%- endfor %}
{%- endif %}
with texts as (

    select
        chunk_id,
        lower(chunk_text) as lower_text
    from {{ ref('int_chunks_curated') }}

),

counted as (

    select
        chunk_id,
        unnest(
            [
                {%- for factor in factors %}
                {
                    'risk_factor': {{ sql_string(factor.name) }},
                    'n_matches': len(regexp_extract_all(lower_text, {{ sql_string(factor.pattern) }}))
                },
                {%- endfor %}
                -- a placeholder that never matches, so an empty taxonomy still compiles
                { 'risk_factor': cast(null as varchar), 'n_matches': 0 }
            ],
            recursive := true
        )
    from texts

)

select
    chunk_id,
    risk_factor,
    cast(n_matches as integer) as n_matches
from counted
where n_matches > 0
