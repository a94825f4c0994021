{% macro current_training_run() %}
    {#- The run the latest build trained or reused: the model whose embeddings searches use. -#}
    {%- set runs = run_query(
        "select run_id, artifact_path from " ~ ref('training_runs') ~ " order by built_at desc limit 1"
    ) -%}
    {%- if execute and runs.rows | length == 0 -%}
        {{ exceptions.raise_compiler_error("No training run yet: run `dbt build` first.") }}
    {%- endif -%}
    {{ return(runs.rows[0] if execute else none) }}
{% endmacro %}


{% macro semantic_search(query_text, k=10) %}
    {#- The top-k curated chunks for a query, by cosine similarity with the current run's embeddings. -#}
    {%- set run = current_training_run() -%}
    with query as (

        select vectorfin_embed(
            {{ dbt.string_literal(query_text) }},
            {{ dbt.string_literal(run['artifact_path'] if run else '') }}
        ) as query_embedding

    ),

    scored as (

        select
            embeddings.chunk_id,
            list_cosine_similarity(embeddings.embedding::float[], query.query_embedding) as score
        from {{ ref('chunk_embeddings') }} as embeddings
        cross join query
        where embeddings.model_run_id = {{ dbt.string_literal(run['run_id'] if run else '') }}

    )

    select
        scored.score,
        chunks.chunk_id,
        chunks.ticker,
        chunks.fiscal_period,
        chunks.chunk_text
    from scored
    inner join {{ ref('int_chunks_curated') }} as chunks on scored.chunk_id = chunks.chunk_id
    order by scored.score desc
    limit {{ k }}
{% endmacro %}


{% macro print_semantic_search(query, k=5) %}
    {#- `dbt run-operation print_semantic_search --args '{query: "...", k: 5}'` prints the hits. -#}
    {%- set hits = run_query(semantic_search(query, k)) -%}
    {%- do hits.print_table(max_column_width=100) -%}
{% endmacro %}
