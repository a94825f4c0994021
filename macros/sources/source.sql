{% macro source(source_name, table_name) -%}
    {#- Project override of dbt's source(), for the sources that are not tables of the DuckDB file:
        * Iceberg (`raw`, and `embeddings`, the vectors a previous run wrote back): read at the metadata
          file the Iceberg catalog names for the table now (raw: or at the snapshot var raw_snapshot_ids
          pins), never by folder, so a commit by any writer is seen. Resolved once per run: see
          iceberg_table_read.
        * `external_files`: read from the file at the table's meta.path, with the column types its yml
          declares (external_file_read): the same declaration types the empty stand-in of a missing file.
        The lineage is dbt's own: builtins.source() records it. -#}
    {%- set relation = builtins.source(source_name, table_name) -%}
    {%- if execute and source_name in ('raw', 'embeddings') -%}
        {%- do return(relation.incorporate(external=iceberg_table_read(source_name, table_name)['scan_sql'])) -%}
    {%- elif execute and source_name == 'external_files' -%}
        {%- do return(relation.incorporate(external=external_file_read(source_name, table_name))) -%}
    {%- endif -%}
    {%- do return(relation) -%}
{%- endmacro %}
