-- The vectors round-2 hard negatives are mined with: one run's, one row per chunk. By default the run
-- that wrote last (the latest embedded_at: the published model of the previous build); var
-- hard_negative_embeddings_run names another. Built only for round 2 (var hard_negative_round).
{{ config(enabled=var('hard_negative_round') == 2) }}

with source as (

    select * from {{ source('embeddings', 'chunk_embeddings') }}

),

chosen_run as (

    {%- if var('hard_negative_embeddings_run') %}
        select {{ sql_string(var('hard_negative_embeddings_run')) }} as model_run_id
    {%- else %}
        select arg_max(model_run_id, embedded_at) as model_run_id
        from source
    {%- endif %}

)

select
    source.chunk_id,
    source.model_run_id,
    cast(source.embedding as float[]) as embedding
from source
inner join chosen_run on source.model_run_id = chosen_run.model_run_id
