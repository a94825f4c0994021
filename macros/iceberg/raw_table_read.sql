{% macro iceberg_table_read(namespace, table_name) -%}
    {#- How this run reads the Iceberg table <namespace>.<table_name>, from the catalog via the dbt
        plugin's function vectorfin_iceberg_read (src/vectorfin/catalog_reads.py): a dict with
        identifier, metadata_location, snapshot_id (none: the table holds no snapshot yet), pinned and
        scan_sql. The same for every node of one invocation. Raw tables may be pinned to a snapshot by
        var raw_snapshot_ids. Before execution (parsing), a placeholder. -#}
    {%- if not execute -%}
        {%- do return({
            'identifier': namespace ~ '.' ~ table_name, 'metadata_location': '', 'snapshot_id': none,
            'pinned': false, 'scan_sql': ''
        }) -%}
    {%- endif -%}
    {%- set pins = var('raw_snapshot_ids', {}) if namespace == 'raw' else {} -%}
    {%- set query -%}
        select vectorfin_iceberg_read(
            {{ sql_string(namespace) }}, {{ sql_string(table_name) }}, {{ sql_string(tojson(pins)) }}, {{ sql_string(invocation_id) }}
        )
    {%- endset -%}
    {%- do return(fromjson(run_query(query).columns[0].values()[0])) -%}
{%- endmacro %}


{% macro raw_table_read(table_name) -%}
    {{ return(iceberg_table_read('raw', table_name)) }}
{%- endmacro %}
