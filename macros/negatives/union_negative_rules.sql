{% macro negative_rule_model(rule_name) -%}
    {{ return('int_negatives__' ~ rule_name) }}
{%- endmacro %}


{% macro negative_rule_names() -%}
    {#- The registered hard-negative rules, in priority order: var('negative_rules'). -#}
    {{ return(var('negative_rules', []) or []) }}
{%- endmacro %}


{% macro union_negative_rules() -%}
    {#- `select ... union all select ...` over every rule model (int_negatives__<rule>), each row with its
        rule's name and priority (its position in var('negative_rules'), 0 first). A rule model the var
        does not name fails the build (require_registered_models). (The var's values - known names, no
        repeats - are checked before the run starts, by src/vectorfin/config/validation.py.) -#}
    {%- set names = negative_rule_names() -%}
    {%- do require_registered_models('negative rule', negative_rule_model(''), names, 'negative_rules') -%}
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
