{% macro pair_strategy_model(strategy_name) -%}
    {{ return('int_pairs__' ~ strategy_name) }}
{%- endmacro %}


{% macro pair_strategy_names() -%}
    {#- The registered strategies: the keys of var('pair_strategies'), in order. -#}
    {{ return((var('pair_strategies', {}) or {}).keys() | list) }}
{%- endmacro %}


{% macro union_pair_strategies() -%}
    {#- `select ... union all select ...` over every enabled strategy model (int_pairs__<name>;
        pair_strategy_setting says which are).
        The registry is var('pair_strategies') in dbt_project.yml: dbt needs each ref() at parse time,
        and a dbt project cannot list a folder, so the var names the strategies. At run time the
        macro checks the other direction too: a model in models/intermediate/pair_strategies/ that
        the var does not name fails the build rather than being left out silently. (The var's values -
        overrides naming registered strategies, at least one enabled - are checked before the run
        starts, by src/vectorfin/config/validation.py.) -#}
    {%- set names = pair_strategy_names() -%}
    {%- if execute -%}
        {%- for node in graph.nodes.values()
            if node.resource_type == 'model' and 'pair_strategies' in node.fqn -%}
            {%- if not node.name.startswith('int_pairs__') or node.name[11:] not in names -%}
                {{ exceptions.raise_compiler_error(
                    "pair strategy model " ~ node.name ~ " is not registered: name it int_pairs__<strategy> "
                    ~ "and add <strategy> to var('pair_strategies') in dbt_project.yml"
                ) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {#- while dbt parses, every registered strategy (the lineage); when it runs, the enabled ones only, so a
        disabled strategy's table from an earlier build is never read -#}
    {%- for name in names if not execute or pair_strategy_setting(name, 'enabled') %}
    select * from {{ ref(pair_strategy_model(name)) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
