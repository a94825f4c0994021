{% macro raw_table_read(table_name) -%}
    {#- How this run reads raw.<table_name>, from the catalog via the dbt plugin's function
        vectorfin_iceberg_read (src/vectorfin/catalog_reads.py): a dict with identifier,
        metadata_location, snapshot_id (none: the table holds no snapshot yet), pinned and scan_sql.
        The same for every node of one invocation. Before execution (parsing), a placeholder. -#}
    {%- if not execute -%}
        {%- do return({
            'identifier': 'raw.' ~ table_name, 'metadata_location': '', 'snapshot_id': none,
            'pinned': false, 'scan_sql': ''
        }) -%}
    {%- endif -%}
    {%- set query -%}
        select vectorfin_iceberg_read(
            'raw',
            '{{ table_name | replace("'", "''") }}',
            '{{ tojson(var('raw_snapshot_ids', {})) | replace("'", "''") }}',
            '{{ invocation_id }}'
        )
    {%- endset -%}
    {%- do return(fromjson(run_query(query).columns[0].values()[0])) -%}
{%- endmacro %}
