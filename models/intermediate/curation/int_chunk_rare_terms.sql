-- Each curated chunk's rarest content words, for the lexically-close hard-negative rule: words with a
-- letter, of four characters or more, found in 2 to var lexical_negative_max_df curated chunks; per
-- chunk the var lexical_negative_terms_per_chunk rarest (ties by the word). idf = ln(N / df).
with curated_tokens as (

    select
        tokens.chunk_id,
        tokens.token
    from {{ ref('int_chunk_content_tokens') }} as tokens
    inner join {{ ref('int_chunks_curated') }} as chunks on tokens.chunk_id = chunks.chunk_id
    where length(tokens.token) >= 4 and regexp_matches(tokens.token, '[a-z]')

),

corpus as (

    select count(*) as n_chunks
    from {{ ref('int_chunks_curated') }}

),

document_frequency as (

    select
        token,
        count(*) as df
    from curated_tokens
    group by token
    having count(*) between 2 and {{ number_var('lexical_negative_max_df') }}

)

select
    curated_tokens.chunk_id,
    curated_tokens.token,
    document_frequency.df,
    ln(corpus.n_chunks / document_frequency.df) as idf
from curated_tokens
inner join document_frequency on curated_tokens.token = document_frequency.token
cross join corpus
qualify row_number() over (
        partition by curated_tokens.chunk_id order by document_frequency.df, curated_tokens.token
    ) <= {{ number_var('lexical_negative_terms_per_chunk') }}
