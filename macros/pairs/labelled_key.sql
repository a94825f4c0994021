{% macro labelled_key(source_column, id_column) -%}
    {#- The document key of a labelled question or passage, 'labelled:<source>:<id>': it never collides
        with a curated chunk's id, and it says where the text comes from. -#}
    'labelled:' || {{ source_column }} || ':' || {{ id_column }}
{%- endmacro %}
