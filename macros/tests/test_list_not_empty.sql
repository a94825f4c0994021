{% test list_not_empty(model, column_name) %}
{#- Fails on rows whose list column is null or empty. -#}
select *
from {{ model }}
where {{ column_name }} is null or len({{ column_name }}) = 0
{% endtest %}
