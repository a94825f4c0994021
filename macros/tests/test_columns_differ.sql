{% test columns_differ(model, column_name, other_column) %}
{#- Fails on rows where `column_name` equals `other_column` (an anchor that is its own positive, a
    negative that is the positive). Rows where either is null are not compared. -#}
select *
from {{ model }}
where {{ column_name }} = {{ other_column }}
{% endtest %}
