{% macro normalized_company_name(column) -%}
    {#- Upper case, every run of non-alphanumerics one space, trimmed: "Walt Disney Co/" and
        "WALT DISNEY CO" meet, as do "PG&E Corporation" and "PG E CORPORATION". -#}
    trim(regexp_replace(upper({{ column }}), '[^A-Z0-9]+', ' ', 'g'))
{%- endmacro %}
