{% macro pair_strategy_setting(strategy_name, key) -%}
    {#- One setting (enabled / weight) of a pair strategy, by the rule written once in Python
        (vectorfin.config.validation.pair_strategy_setting: var pair_strategy_overrides, meant for
        `dbt build --vars`, then the registry var pair_strategies, then the default), which the quality
        gate and the settings check apply too. Overriding `pair_strategies` itself on the command line
        would replace the whole registry, so the union macro would find unregistered strategy models and
        stop the build. While dbt parses nothing is read (none): the SQL is not run then. -#}
    {%- if not execute -%}
        {{ return(none) }}
    {%- endif -%}
    {%- set setting = run_query(
        "select vectorfin_pair_strategy_setting("
        ~ sql_string(tojson(var('pair_strategies', {}) or {})) ~ ", "
        ~ sql_string(tojson(var('pair_strategy_overrides', {}) or {})) ~ ", "
        ~ sql_string(strategy_name) ~ ", " ~ sql_string(key) ~ ")"
    ).rows[0][0] -%}
    {{ return(fromjson(setting)) }}
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
