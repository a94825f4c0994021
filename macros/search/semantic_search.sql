{% macro published_run() %}
    {#- The run searches serve: the one whose vectors chunk_embeddings holds. chunk_embeddings publishes
        a run only when its regression check passed, so this is not always the latest training run.
        A clear error when nothing is published (rather than a search that finds nothing). -#}
    {#- both refs outside `if execute`, so a model or analysis calling this depends on them at parse time -#}
    {%- set embeddings_model = ref('chunk_embeddings') -%}
    {%- set training_runs = ref('training_runs') -%}
    {%- if not execute -%}
        {{ return({'run_id': '', 'artifact_path': ''}) }}
    {%- endif -%}
    {%- if flags.WHICH == 'generate' -%}
        {#- `dbt docs generate` compiles analyses too: the docs show a search's SQL, which needs no
            published run (a build without the ML models has none) -#}
        {{ return({'run_id': '<the published run>', 'artifact_path': '<its artifact folder>'}) }}
    {%- endif -%}
    {%- set embeddings = load_relation(embeddings_model) -%}
    {%- if embeddings is none -%}
        {{ exceptions.raise_compiler_error(
            "No embeddings to search: " ~ embeddings_model ~ " does not exist. Run `dbt build` first."
        ) }}
    {%- endif -%}
    {%- set runs = run_query(
        "select embeddings.model_run_id, any_value(runs.artifact_path), count(*) from " ~ embeddings
        ~ " as embeddings left join " ~ training_runs ~ " as runs on embeddings.model_run_id = runs.run_id"
        ~ " group by embeddings.model_run_id"
    ) -%}
    {%- if runs.rows | length == 0 -%}
        {{ exceptions.raise_compiler_error(
            "No embeddings to search: " ~ embeddings ~ " is empty, so no run is published yet (a run is "
            ~ "published when its regression check passes; see regression_check). Run `dbt build`."
        ) }}
    {%- elif runs.rows | length > 1 -%}
        {{ exceptions.raise_compiler_error(
            embeddings ~ " holds " ~ (runs.rows | length) ~ " runs; it should hold the published run only. "
            ~ "Rebuild it: `dbt run --select chunk_embeddings`."
        ) }}
    {%- elif runs.rows[0][1] is none -%}
        {{ exceptions.raise_compiler_error(
            "The published run " ~ runs.rows[0][0] ~ " has no row in " ~ training_runs
            ~ ", so its model cannot embed the query."
        ) }}
    {%- endif -%}
    {{ return({'run_id': runs.rows[0][0], 'artifact_path': runs.rows[0][1]}) }}
{% endmacro %}


{% macro semantic_search(query_text, k=10) %}
    {#- The top-k curated chunks for a query, by cosine similarity with the published run's embeddings.
        The query text and every value read back are quoted by sql_string; k must be a positive integer. -#}
    {%- if query_text is none or (query_text | string).strip() == '' -%}
        {{ exceptions.raise_compiler_error("semantic_search: the query text is empty") }}
    {%- endif -%}
    {%- set limit = sql_positive_integer(k, 'semantic_search: k') -%}
    {%- set run = published_run() -%}
    with query as (

        select vectorfin_embed({{ sql_string(query_text) }}, {{ sql_string(run.artifact_path) }}) as query_embedding

    ),

    scored as (

        select
            embeddings.chunk_id,
            embeddings.model_run_id,
            list_cosine_similarity(embeddings.embedding::float[], query.query_embedding) as score
        from {{ ref('chunk_embeddings') }} as embeddings
        cross join query
        where embeddings.model_run_id = {{ sql_string(run.run_id) }}

    )

    select
        scored.score,
        chunks.chunk_id,
        chunks.ticker,
        chunks.fiscal_period,
        chunks.chunk_text,
        scored.model_run_id
    from scored
    inner join {{ ref('int_chunks_curated') }} as chunks on scored.chunk_id = chunks.chunk_id
    {# top-k by qualify, not a trailing limit, so `dbt show` (which appends its own limit) can run it #}
    qualify row_number() over (order by scored.score desc, chunks.chunk_id) <= {{ limit }}
    order by scored.score desc, chunks.chunk_id
{% endmacro %}


{% macro print_semantic_search(query, k=5) %}
    {#- `dbt run-operation print_semantic_search --args '{query: "...", k: 5}'` prints the hits. -#}
    {%- set hits = run_query(semantic_search(query, k)) -%}
    {%- do hits.print_table(max_column_width=100) -%}
{% endmacro %}
