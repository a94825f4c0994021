{% macro sql_string(value) -%}
    {#- `value` as a SQL string literal, single quotes doubled (none: null). The one way a value that
        is not SQL (a var, a macro argument, a row read back) enters a query: DuckDB reads backslashes,
        semicolons and comment markers inside a literal as text. src/vectorfin/duck.py `sql_string`
        is its twin for Python. A NUL character ends the query text for DuckDB's parser ("unterminated
        quoted string"), so no literal can hold one: such a value is refused, whatever it is for. -#}
    {%- if value is none -%}
        {{ return('null') }}
    {%- endif -%}
    {%- set text = value | string -%}
    {%- if '\x00' in text -%}
        {{ exceptions.raise_compiler_error(
            "the text '" ~ (text | replace('\x00', '\\u0000')) ~ "' contains a NUL character (\\u0000), "
            ~ "which no SQL string literal can hold: remove it"
        ) }}
    {%- endif -%}
    {{ return("'" ~ (text | replace("'", "''")) ~ "'") }}
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


{% macro number_var(name) -%}
    {#- var `name` as a SQL number, or a compiler error: the one way a number var enters SQL. The settings
        check (on-run-start) judges ranges before `dbt build`, `run` and `test`, but `dbt show` and
        `dbt compile` run no hooks, and a var given as text would be pasted into SQL as it is. -#}
    {%- set value = var(name) -%}
    {#- checked when SQL is compiled to run (`execute`), not while dbt parses or sqlfluff lints -#}
    {%- if execute and (value is not number or value is boolean) -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be a number, got " ~ (value | string)) }}
    {%- endif -%}
    {{ return(value | string) }}
{%- endmacro %}


{% macro boolean_var(name) -%}
    {#- var `name` as SQL true / false, or a compiler error (as number_var, for booleans). -#}
    {%- set value = var(name) -%}
    {%- if execute and value is not boolean -%}
        {{ exceptions.raise_compiler_error("var " ~ name ~ " must be true or false, got " ~ (value | string)) }}
    {%- endif -%}
    {{ return('true' if value else 'false') }}
{%- endmacro %}
