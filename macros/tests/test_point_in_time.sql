{% test point_in_time(model, column_name, chunk_id_columns=[], cutoff=none) %}
{#- Fails on rows whose `column_name` timestamp is missing or not strictly before `cutoff`
    (default var training_cutoff), and on rows citing a chunk (any of `chunk_id_columns`) whose own
    knowledge_ts is missing or not before it: no text may be newer than the cutoff. -#}
{%- set cutoff_sql = sql_timestamp(cutoff or var('training_cutoff')) %}
with examples as (

    select * from {{ model }}

),

chunks as (

    select chunk_id, knowledge_ts from {{ ref('int_chunks_curated') }}

),

violations as (

    select
        {{ sql_string(column_name) }} as checked_column,
        cast({{ column_name }} as varchar) as checked_value
    from examples
    where {{ column_name }} is null or {{ column_name }} >= {{ cutoff_sql }}
    {%- for column in chunk_id_columns %}
    union all
    select
        {{ sql_string(column) }} as checked_column,
        examples.{{ column }} as checked_value
    from examples
    inner join chunks on examples.{{ column }} = chunks.chunk_id
    where chunks.knowledge_ts is null or chunks.knowledge_ts >= {{ cutoff_sql }}
    {%- endfor %}

)

select * from violations
{% endtest %}
