{% macro source(source_name, table_name) -%}
    {#- Project override of dbt's source(): a table of the `raw` source is read at the metadata file
        the Iceberg catalog names for it now (or at the snapshot var raw_snapshot_ids pins), never by
        folder, so a commit by any writer is seen. Resolved once per run: see raw_table_read. -#}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if source_name == 'raw' and execute -%}
        {%- do return(relation.incorporate(external=raw_table_read(table_name)['scan_sql'])) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
