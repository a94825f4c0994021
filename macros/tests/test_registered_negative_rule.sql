{% test registered_negative_rule(model, column_name, also=[]) %}
{#- Fails on rows whose rule is not registered in var('negative_rules') (nor one of `also`, such as
    'none_found'): the accepted values of every negative_rule column come from the registry, so adding a
    rule touches no test. Nulls are left to not_null. -#}
{%- set accepted = negative_rule_names() + also %}
select {{ column_name }} as unregistered_rule
from {{ model }}
where {{ column_name }} not in (
    {%- for name in accepted %}{{ sql_string(name) }}{{ ', ' if not loop.last }}{% endfor -%}
)
{% endtest %}
