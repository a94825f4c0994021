{% macro negative_rule_model(rule_name) -%}
    {{ return('int_negatives__' ~ rule_name) }}
{%- endmacro %}


{% macro negative_rule_names() -%}
    {#- The registered hard-negative rules, in priority order: var('negative_rules'). -#}
    {{ return(var('negative_rules', []) or []) }}
{%- endmacro %}


{% macro union_negative_rules() -%}
    {#- `select ... union all select ...` over every rule model (int_negatives__<rule>), each row with its
        rule's name and priority (its position in var('negative_rules'), 0 first). The registry is the var
        in dbt_project.yml: dbt needs each ref() at parse time, and a dbt project cannot list a folder. At
        run time the macro checks the other direction too: a rule model (int_negatives__<rule>) the var
        does not name fails the build rather than being left out silently. (The var's values - known names, no repeats - are checked before the
        run starts, by src/vectorfin/config/validation.py.) -#}
    {%- set names = negative_rule_names() -%}
    {%- if execute -%}
        {#- a unit test compiles without the project's graph: nothing to check there -#}
        {%- for node in (graph.get('nodes') or {}).values()
            if node.resource_type == 'model' and node.name.startswith(negative_rule_model('')) -%}
            {%- if node.name[negative_rule_model('') | length:] not in names -%}
                {{ exceptions.raise_compiler_error(
                    "negative rule model " ~ node.name ~ " is not registered: add its rule to "
                    ~ "var('negative_rules') in dbt_project.yml"
                ) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}
    {%- for name in names %}
    select
        pair_id,
        negative_chunk_id,
        {{ loop.index0 }} as rule_priority,
        {{ sql_string(name) }} as negative_rule,
        rule_rank
    from {{ ref(negative_rule_model(name)) }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
