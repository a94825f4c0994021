{% macro stable_fraction(expression, salt) -%}
    {#- A number in [0, 1) fixed by `expression` and `salt`: the first 32 bits of md5, so it is the same
        on every machine and DuckDB version (DuckDB's own hash() is not promised to be). Used for the
        company eval split, the strategy weight samples and every deterministic "random" choice. -#}
    (cast(('0x' || substr(md5({{ sql_string(salt ~ '|') }} || cast({{ expression }} as varchar)), 1, 8)) as ubigint) / 4294967296.0)
{%- endmacro %}


{% macro sql_timestamp(value) -%}
    {#- A timestamp literal from text (a var): quoted by sql_string, parsed by DuckDB. -#}
    cast({{ sql_string(value) }} as timestamp)
{%- endmacro %}


{% macro as_of_ts() -%}
    {#- The clock the future-knowledge_ts check compares with: var as_of_ts, else the build's time. -#}
    {%- if var('as_of_ts', none) -%}
        {{ sql_timestamp(var('as_of_ts')) }}
    {%- else -%}
        cast(current_timestamp as timestamp)
    {%- endif -%}
{%- endmacro %}


{% macro training_cutoff() -%}
    {{ sql_timestamp(var('training_cutoff')) }}
{%- endmacro %}
