{% macro pair_strategy_setting(strategy_name, key) -%}
    {#- One setting (enabled / weight) of a pair strategy. Precedence: var('pair_strategy_overrides')
        (empty in dbt_project.yml; meant for `dbt build --vars`, merged per strategy and key), then
        var('pair_strategies') (the registry in dbt_project.yml), then the default (enabled: true,
        weight: 1.0). Overriding `pair_strategies` itself on the command line would replace the whole
        registry, so the union macro would find unregistered strategy models and stop the build.
        The values are checked before the run starts (src/vectorfin/config/validation.py: enabled a
        boolean, weight in (0, 1], overrides only for registered strategies); the same precedence is
        vectorfin.config.validation.enabled_pair_strategies in Python. -#}
    {%- set defaults = {'enabled': true, 'weight': 1.0} -%}
    {%- set registered = (var('pair_strategies', {}) or {}).get(strategy_name, {}) or {} -%}
    {%- set overridden = (var('pair_strategy_overrides', {}) or {}).get(strategy_name, {}) or {} -%}
    {{ return(overridden.get(key, registered.get(key, defaults[key]))) }}
{%- endmacro %}


{% macro select_pair_contract(strategy_name, cte) -%}
    {#- The one output shape of every pair strategy. `cte` must provide anchor_chunk_id, anchor_doc_id,
        anchor_text, anchor_knowledge_ts, positive_chunk_id, positive_doc_id, positive_text,
        positive_knowledge_ts, ticker and fiscal_period. The positive is always a document a split knows
        (int_document_splits: a curated chunk or a labelled passage; its text may be a span of it). The
        anchor is a document too, or free text with a null anchor_chunk_id (a taxonomy description, a
        labelled question, a template): the pair then follows its positive's split, and its key uses
        the anchor text. This macro adds the key, the strategy name,
        the pair's knowledge_ts (the later of both texts: a pair is known only when both are) and the
        strategy's weight. A disabled strategy yields no rows; the weight is applied when pairs are
        sampled into training (int_pairs_split), so held-out evaluation stays the same whatever the mix. -#}
    {%- set enabled = pair_strategy_setting(strategy_name, 'enabled') -%}
    {%- set weight = pair_strategy_setting(strategy_name, 'weight') -%}
    select
        md5({{ sql_string(strategy_name) }} || '|' || coalesce(anchor_chunk_id, 'text:' || anchor_text) || '|' || positive_chunk_id) as pair_id,
        {{ sql_string(strategy_name) }} as strategy,
        cast(anchor_chunk_id as varchar) as anchor_chunk_id,
        cast(anchor_doc_id as varchar) as anchor_doc_id,
        cast(anchor_text as varchar) as anchor_text,
        cast(positive_chunk_id as varchar) as positive_chunk_id,
        cast(positive_doc_id as varchar) as positive_doc_id,
        cast(positive_text as varchar) as positive_text,
        cast(ticker as varchar) as ticker,
        cast(fiscal_period as varchar) as fiscal_period,
        cast(greatest(anchor_knowledge_ts, positive_knowledge_ts) as timestamp) as knowledge_ts,
        cast({{ weight | float }} as double) as strategy_weight
    from {{ cte }}
    where
        {% if not enabled %}false and {% endif %}anchor_text is not null
        and positive_text is not null
        and trim(anchor_text) <> ''
        and trim(positive_text) <> ''
        and anchor_text <> positive_text
{%- endmacro %}
