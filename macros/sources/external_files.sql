{% macro external_file_available(source_name, table_name) -%}
    {#- Whether the file(s) behind an external_files source exist (its `meta.path`, a glob), checked at
        run time with DuckDB's glob(). While dbt parses, the answer is true, so that the staging model's
        source() call always records the lineage. -#}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set node = graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | first -%}
    {%- set found = run_query('select count(*) from glob(' ~ sql_string(node.meta.path) ~ ')') -%}
    {%- if found.rows[0][0] == 0 -%}
        {{ log(source_name ~ '.' ~ table_name ~ ': no file at ' ~ node.meta.path ~ ', so no rows', info=true) }}
    {%- endif -%}
    {{ return(found.rows[0][0] > 0) }}
{%- endmacro %}


{% macro external_file_rows(source_name, table_name) -%}
    {#- `select * from` the source when its file exists, else no rows with the columns and types the
        source's yml declares (one declaration serves documentation and the empty case). -#}
    {%- if external_file_available(source_name, table_name) -%}
        select * from {{ source(source_name, table_name) }}
    {%- else -%}
        {%- set node = graph.sources.values()
            | selectattr('source_name', 'equalto', source_name)
            | selectattr('name', 'equalto', table_name)
            | first -%}
        select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- endfor %}
        where false
    {%- endif -%}
{%- endmacro %}
