{% test unique_key_columns(model, columns) %}
{#- A composite primary key: no two rows share the values of all `columns`, none of them null. -#}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1 or {{ columns | join(' is null or ') }} is null
{% endtest %}
