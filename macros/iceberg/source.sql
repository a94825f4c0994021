{% macro source(source_name, table_name) -%}
    {#- Project override of dbt's source(): a table of an Iceberg source (`raw`, and `embeddings`, the
        vectors a previous run wrote back) is read at the metadata file the Iceberg catalog names for it
        now (raw: or at the snapshot var raw_snapshot_ids pins), never by folder, so a commit by any
        writer is seen. Resolved once per run: see iceberg_table_read. -#}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if source_name in ('raw', 'embeddings') and execute -%}
        {%- do return(relation.incorporate(external=iceberg_table_read(source_name, table_name)['scan_sql'])) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
