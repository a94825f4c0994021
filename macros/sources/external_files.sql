{% macro external_source_node(source_name, table_name) -%}
    {{ return(graph.sources.values()
        | selectattr('source_name', 'equalto', source_name)
        | selectattr('name', 'equalto', table_name)
        | first) }}
{%- endmacro %}


{% macro external_file_read(source_name, table_name) -%}
    {#- The table function that reads an external file: meta.reader (read_json, read_text) at meta.path
        with meta.options; a JSON reader is given the yml's column types, so that the file's values are
        read as declared rather than as whatever a small file lets DuckDB guess (objects as maps). -#}
    {%- set node = external_source_node(source_name, table_name) -%}
    {%- set arguments = [sql_string(node.meta.path)] -%}
    {%- if node.meta.options -%}
        {%- do arguments.append(node.meta.options) -%}
    {%- endif -%}
    {%- if node.meta.reader == 'read_json' -%}
        {%- set types = [] -%}
        {%- for column in node.columns.values() -%}
            {%- do types.append(sql_string(column.name) ~ ': ' ~ sql_string(column.data_type)) -%}
        {%- endfor -%}
        {%- do arguments.append('columns = {' ~ types | join(', ') ~ '}') -%}
    {%- endif -%}
    {{ return(node.meta.reader ~ '(' ~ arguments | join(', ') ~ ')') }}
{%- endmacro %}


{% macro external_file_available(source_name, table_name) -%}
    {#- Whether the file(s) behind an external_files source exist (its `meta.path`, a glob), checked at
        run time with DuckDB's glob(). While dbt parses, the answer is true, so that the staging model's
        source() call always records the lineage. -#}
    {%- if not execute -%}
        {{ return(true) }}
    {%- endif -%}
    {%- set node = external_source_node(source_name, table_name) -%}
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
        {%- set node = external_source_node(source_name, table_name) -%}
        select
        {%- for column in node.columns.values() %}
            cast(null as {{ column.data_type }}) as {{ adapter.quote(column.name) }}{{ ',' if not loop.last }}
        {%- endfor %}
        where false
    {%- endif -%}
{%- endmacro %}
