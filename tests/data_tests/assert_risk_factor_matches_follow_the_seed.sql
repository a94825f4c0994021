-- int_chunk_risk_factor_matches writes the seed's patterns into its SQL as constants (for speed).
-- This checks it against the seed as it is now, pattern by pattern and row by row, on a fixed hash
-- sample of ~500 curated chunks: a (chunk, factor) matched on one side only is returned.
with sample as (

    select
        chunk_id,
        lower(chunk_text) as lower_text
    from {{ ref('int_chunks_curated') }}
    order by {{ stable_fraction('chunk_id', 'risk_factor_sample') }}
    limit 500

),

expected as (

    select
        sample.chunk_id,
        trim(taxonomy.risk_factor) as risk_factor,
        len(regexp_extract_all(sample.lower_text, lower(trim(taxonomy.patterns)))) as n_matches
    from sample
    cross join {{ ref('risk_factor_taxonomy') }} as taxonomy
    where regexp_matches(sample.lower_text, lower(trim(taxonomy.patterns)))

),

actual as (

    select matches.*
    from {{ ref('int_chunk_risk_factor_matches') }} as matches
    inner join sample on matches.chunk_id = sample.chunk_id

)

select
    coalesce(expected.chunk_id, actual.chunk_id) as chunk_id,
    coalesce(expected.risk_factor, actual.risk_factor) as risk_factor,
    expected.n_matches as expected_matches,
    actual.n_matches as actual_matches
from expected
full outer join actual
    on expected.chunk_id = actual.chunk_id
        and expected.risk_factor = actual.risk_factor
where expected.n_matches is distinct from actual.n_matches
