-- MinHash-lite signatures of every chunk with enough text (see macros/quality/minhash.sql): the
-- near-duplicate rule of the quarantine and the near-duplicate leakage check of the splits compare these.
-- Chunks with fewer than var('minhash_min_tokens') distinct content words get none: too little text
-- to call two chunks near duplicates (their exact duplicates are still caught by text_hash).
-- Incremental (macros/incremental/chunk_increments.sql): only chunk_ids not signed yet (a signature depends on
-- the chunk's words only); after changing var minhash_min_tokens, rebuild with --full-refresh.
{{ config(
    post_hook="{{ delete_chunks_not_in([ref('int_chunk_content_tokens')]) }}",
    **chunk_increment_config()
) }}

with signed as (

    select
        tokens.chunk_id,
        count(*) as n_content_tokens,
        [
            {%- for seed in range(1, minhash_count() + 1) %}
                min(hash(tokens.token, {{ seed }})){% if not loop.last %},{% endif %}
            {%- endfor %}
        ] as signature
    from {{ ref('int_chunk_content_tokens') }} as tokens
    where {{ unseen_chunk_versions('tokens', with_ingested_at=false) }}
    group by tokens.chunk_id
    having count(*) >= {{ number_var('minhash_min_tokens') }}

)

select
    chunk_id,
    n_content_tokens,
    signature,
    {{ minhash_band_keys('signature') }}
from signed
