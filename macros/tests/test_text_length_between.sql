{% test text_length_between(model, column_name, min_length, max_length) %}
{#- Fails on non-null texts shorter than `min_length` or longer than `max_length` characters. -#}
select
    *,
    length({{ column_name }}) as text_chars
from {{ model }}
where
    {{ column_name }} is not null
    and (length({{ column_name }}) < {{ min_length }} or length({{ column_name }}) > {{ max_length }})
{% endtest %}
