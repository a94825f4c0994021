{% macro pair_strategy_model(strategy_name) -%}
    {{ return('int_pairs__' ~ strategy_name) }}
{%- endmacro %}


{% macro pair_strategy_names() -%}
    {#- The registered strategies: the keys of var('pair_strategies'), in order. -#}
    {{ return((var('pair_strategies', {}) or {}).keys() | list) }}
{%- endmacro %}


{% macro union_pair_strategies() -%}
    {#- `select ... union all select ...` over every enabled strategy model (int_pairs__<name>;
        pair_strategy_setting says which are), registered in var('pair_strategies') in dbt_project.yml: a
        model in models/intermediate/pair_strategies/ the var does not name fails the build
        (require_registered_models). (The var's values - overrides naming registered strategies, at least
        one enabled - are checked before the run starts, by src/vectorfin/config/validation.py.) -#}
    {%- set names = pair_strategy_names() -%}
    {%- do require_registered_models('pair strategy', pair_strategy_model(''), names, 'pair_strategies', 'pair_strategies') -%}
    {#- while dbt parses, every registered strategy (the lineage); when it runs, the enabled ones only, so a
        disabled strategy's table from an earlier build is never read -#}
    {%- for name in names if not execute or pair_strategy_setting(name, 'enabled') %}
    select * from {{ ref(pair_strategy_model(name)) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
