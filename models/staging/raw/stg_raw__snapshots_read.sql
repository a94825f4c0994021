{{ config(materialized='table') }}
-- One row per raw source table: the Iceberg snapshot this build read (the one its staging views and
-- source tests compiled in), so a training run can record exactly which raw data it learned from.
-- depends_on: {{ source('raw', 'transcript_chunks') }}
-- depends_on: {{ source('raw', 'filing_chunks') }}
{%- set raw_tables = ['transcript_chunks', 'filing_chunks'] %}

with reads as (

    {% for table_name in raw_tables -%}
        {%- set read = raw_table_read(table_name) %}
        {%- set snapshot_id = read["snapshot_id"] if read["snapshot_id"] is not none else "null" %}
        select
            {{ sql_string(read["identifier"]) }} as source_table,
            cast({{ snapshot_id }} as bigint) as snapshot_id,
            {{ sql_string(read["metadata_location"]) }} as metadata_location,
            {{ "true" if read["pinned"] else "false" }} as pinned
        {% if not loop.last %}union all{% endif %}
    {%- endfor %}

)

select * from reads
