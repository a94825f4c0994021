{% macro sql_string(value) -%}
    {#- `value` as a SQL string literal, single quotes doubled (none: null). The one way a value that
        is not SQL (a var, a macro argument, a row read back) enters a query: DuckDB reads backslashes,
        semicolons and comment markers inside a literal as text. src/vectorfin/duck.py `sql_string`
        is its twin for Python. -#}
    {%- if value is none -%}
        {{ return('null') }}
    {%- endif -%}
    {{ return("'" ~ ((value | string) | replace("'", "''")) ~ "'") }}
{%- endmacro %}


{% macro sql_positive_integer(value, name) -%}
    {#- `value` as a SQL integer, or a compiler error naming `name`: for numbers that reach SQL from
        outside a model (a macro argument such as semantic_search's k), where a string could be SQL. -#}
    {%- if value is integer and value > 0 -%}
        {{ return(value | string) }}
    {%- elif value is string and modules.re.fullmatch('[0-9]+', value.strip()) and value.strip() | int > 0 -%}
        {{ return(value.strip() | int | string) }}
    {%- endif -%}
    {{ exceptions.raise_compiler_error(name ~ " must be a positive integer, got " ~ (value | string)) }}
{%- endmacro %}
