{% test registered_pair_strategy(model, column_name) %}
{#- Fails on rows whose strategy is not registered in var('pair_strategies'): the accepted values of
    every strategy column come from the registry, so adding a strategy touches no test. -#}
select {{ column_name }} as unregistered_strategy
from {{ model }}
where {{ column_name }} is null
    {%- for name in pair_strategy_names() %}
    {% if loop.first %}or {{ column_name }} not in ({% endif %}{{ sql_string(name) }}{{ ', ' if not loop.last else ')' }}
    {%- endfor %}
{% endtest %}
