-- Strategy risk_factors: a risk factor's description (seed risk_factor_taxonomy, edited by analysts)
-- -> a curated chunk that discusses it.
--   * a chunk matches a factor when its lower-cased text matches the factor's `patterns` regex
--     (int_chunk_risk_factor_matches counts the matches) at least var risk_factor_min_matches times
--     (one passing mention, a definition list naming "wildfires", is not a discussion of the risk); it
--     pairs with the factor it matches most often (ties: factor name), so no chunk is the positive of
--     two descriptions;
--   * a list of defined terms ("1.222 Wildfire Insurance Proceeds means ...") names risks without
--     discussing them: such chunks never pair (macros/text/is_definition_list.sql) unless var
--     risk_factor_skip_definition_lists is false;
--   * each factor keeps at most var risk_factor_cap_per_factor chunks: 10-K risk-factor sections
--     (item_1a) first, then the most matches, then a fixed hash order.
-- The anchor is free text, not a chunk: anchor_chunk_id is null, anchor_doc_id 'risk_factor_taxonomy',
-- and the pair's knowledge_ts is the chunk's.
with taxonomy as (

    select
        trim(risk_factor) as risk_factor,
        trim(description) as description
    from {{ ref('risk_factor_taxonomy') }}

),

chunks as (

    select * from {{ ref('int_chunks_curated') }}

),

best_factor as (

    select
        matches.chunk_id,
        matches.risk_factor,
        matches.n_matches,
        chunks.item
    from {{ ref('int_chunk_risk_factor_matches') }} as matches
    inner join chunks on matches.chunk_id = chunks.chunk_id
    inner join taxonomy on matches.risk_factor = taxonomy.risk_factor
    where
        matches.n_matches >= {{ number_var('risk_factor_min_matches') }}
        {%- if var('risk_factor_skip_definition_lists') %}
            and not {{ is_definition_list('chunks.chunk_text') }}
        {%- endif %}
    qualify row_number() over (partition by matches.chunk_id order by matches.n_matches desc, matches.risk_factor asc)
        = 1

),

capped as (

    select *
    from best_factor
    qualify row_number() over (
            partition by risk_factor
            order by
                coalesce(item = 'item_1a', false) desc,
                n_matches desc,
                {{ stable_fraction('chunk_id', 'risk_factors') }}
        ) <= {{ number_var('risk_factor_cap_per_factor') }}

),

pairs as (

    select
        {{ text_anchor_pair_columns(
            "'risk_factor_taxonomy'", 'taxonomy.description', 'cast(null as timestamp)', 'chunks'
        ) }}
    from capped
    inner join taxonomy on capped.risk_factor = taxonomy.risk_factor
    inner join chunks on capped.chunk_id = chunks.chunk_id

)

{{ select_pair_contract('risk_factors', 'pairs') }}
