{% macro normalized_text_hash(column) -%}
    {#- Same hash for texts that differ only in case, punctuation or spacing: the exact-duplicate key. -#}
    md5(trim(regexp_replace(lower({{ column }}), '[^a-z0-9]+', ' ', 'g')))
{%- endmacro %}
