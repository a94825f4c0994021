{% macro search_modes() %}
    {{ return(['dense', 'keyword', 'hybrid']) }}
{% endmacro %}


{% macro search_filters(ticker=none, period=none, as_of=none) %}
    {#- The SQL predicates (on search_chunks' columns) for a search's filters, every value quoted by
        sql_string: `ticker` and `period` a value or a list of values (matched in upper case, as curation
        stores them), `as_of` a finite date or timestamp DuckDB reads: only text public by then
        (knowledge_ts <= as_of), so a search as of a date never sees text published after it. -#}
    {%- set filters = [] -%}
    {%- for column, argument, value in [('ticker', 'ticker', ticker), ('fiscal_period', 'period', period)] -%}
        {%- if value is not none -%}
            {%- set values = [value] if value is string else value -%}
            {%- if value is mapping or values is not iterable or values | length == 0
                or values | reject('string') | list | length > 0
                or values | map('trim') | reject | list | length > 0 -%}
                {{ exceptions.raise_compiler_error(
                    "semantic_search: " ~ argument ~ " must be a non-empty text or a list of them, got "
                    ~ (value | string)
                ) }}
            {%- endif -%}
            {%- set quoted = [] -%}
            {%- for item in values -%}
                {%- do quoted.append(sql_string(item | trim | upper)) -%}
            {%- endfor -%}
            {%- do filters.append(column ~ ' in (' ~ (quoted | join(', ')) ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if as_of is not none -%}
        {%- set as_of_ts = sql_string(as_of | string) ~ '::timestamp' -%}
        {%- if execute -%}
            {#- null: not a timestamp; false: infinity, which DuckDB reads as one but is no point in time -#}
            {%- set parsed = run_query(
                "select isfinite(try_cast(" ~ sql_string(as_of | string) ~ " as timestamp))"
            ) -%}
            {%- if not parsed.rows[0][0] -%}
                {{ exceptions.raise_compiler_error(
                    "semantic_search: as_of must be a date or timestamp (a finite one), e.g. 2023-06-30, got "
                    ~ (as_of | string)
                ) }}
            {%- endif -%}
        {%- endif -%}
        {%- do filters.append('knowledge_ts <= ' ~ as_of_ts) -%}
    {%- endif -%}
    {{ return(filters) }}
{% endmacro %}


{% macro search_target(filters) %}
    {#- What a search reads, checked before it runs by vectorfin.search.search_target (the DuckDB function
        vectorfin_search_target): a published run (chunk_embeddings holds exactly one, with its row in
        training_runs), which search_chunks serves whole with its full-text index and fixed-size vectors,
        else one clear error saying how to fix it. Then the HNSW index file is attached, or rebuilt first
        when lost or stale (ensure_hnsw_index_file). Also counts the chunks and those the filters keep,
        for the dense plan. -#}
    {#- the refs outside `if execute`, so a model or analysis calling this depends on them at parse time -#}
    {%- set embeddings = ref('chunk_embeddings') -%}
    {%- set training_runs = ref('training_runs') -%}
    {%- set relation = ref('search_chunks') -%}
    {%- set target = search_indexes(relation) -%}
    {%- do target.update({
        'relation': relation, 'vector_type': 'float[384]', 'chunks': 0, 'kept': 0,
        'run': {'run_id': '<the published run>', 'artifact_path': '<its artifact folder>', 'chunks': 0},
        'vectors': '<the HNSW index file>.vectors',
    }) -%}
    {#- `dbt docs generate` compiles analyses too: the docs show a search's SQL, which needs no published
        run (a build without the ML models has none) -#}
    {%- if not execute or flags.WHICH == 'generate' -%}
        {{ return(target) }}
    {%- endif -%}
    {%- set checked = fromjson(run_query(
        "select vectorfin_search_target(" ~ sql_string(embeddings | string) ~ ", "
        ~ sql_string(training_runs | string) ~ ", " ~ sql_string(relation | string) ~ ", "
        ~ sql_string(target.fts_schema) ~ ", " ~ sql_string(filters | join(' and ')) ~ ")"
    ).rows[0][0]) -%}
    {%- set index = ensure_hnsw_index_file(relation, checked.build_id) -%}
    {%- do target.update({
        'run': checked.run, 'vector_type': checked.vector_type, 'chunks': checked.chunks,
        'kept': checked.kept, 'vectors': index.vectors,
    }) -%}
    {{ return(target) }}
{% endmacro %}


{% macro hybrid_dense_weight_sql(run_id) %}
    {#- The dense side's weight in hybrid search: var hybrid_dense_weight, or when it is null the weight
        retrieval_metrics chose for the published run on var main_eval_set's tune part (the corpus's own
        kind of search), read by the search query itself; an error when it has no such row. -#}
    {%- set metrics = ref('retrieval_metrics') -%}
    {%- set dense_weight = var('hybrid_dense_weight') -%}
    {%- if dense_weight is none -%}
        (select coalesce(any_value(dense_weight), error({{ sql_string(
            "no fusion weight for the published run " ~ run_id ~ " on " ~ var('main_eval_set')
            ~ " in retrieval_metrics (it holds another run's scores): rebuild retrieval_metrics for it, "
            ~ "or set var hybrid_dense_weight"
        ) }}))
        from {{ metrics }}
        where model = 'tuned+bm25' and eval_set = {{ sql_string(var('main_eval_set')) }}
            and model_run_id = {{ sql_string(run_id ~ '+bm25') }})
    {%- else -%}
        {#- a number in [0, 1]: semantic_search runs the settings check first -#}
        {{ dense_weight | float }}
    {%- endif -%}
{% endmacro %}


{% macro semantic_search(query_text, k=10, mode='dense', ticker=none, period=none, as_of=none) %}
    {#- The top-k chunks of the published run for a query, served from search_chunks and its indexes:
          dense    cosine similarity of the query's embedding (the published run's model), by the HNSW index
          keyword  BM25 over the full-text index (match_bm25)
          hybrid   weighted reciprocal rank fusion of the two rankings, each cut at var search_fusion_depth:
                   vectorfin_rrf_score, the rule the evaluation scores hybrids with (vectorfin.fusion;
                   weight hybrid_dense_weight_sql, constant RRF_K); a chunk one side did not return gets
                   nothing from that side
        Filters: ticker, period, as_of (search_filters). HNSW finds the nearest chunks first and a filter
        then drops some, so a filtered dense search over-fetches: 4 times the chunks it needs, scaled by
        the share the filters keep. When the filters keep at most var search_exact_max_chunks chunks it
        is exact instead (every kept chunk scored): a selective filter (one company) needs that, and it
        costs little. A filter that drops the chunks nearest the query more often than others (as of an
        early date, a query about later events) can still leave an over-fetched search with fewer than k
        hits; raising search_exact_max_chunks above the kept chunks makes it exact.
        Every value that reaches SQL is quoted by sql_string or validated; `score` is the cosine
        similarity (dense), the BM25 score (keyword) or the fused score (hybrid). -#}
    {%- if query_text is none or (query_text | string).strip() == '' -%}
        {{ exceptions.raise_compiler_error("semantic_search: the query text is empty") }}
    {%- endif -%}
    {%- set limit = sql_positive_integer(k, 'semantic_search: k') | int -%}
    {%- if mode not in search_modes() -%}
        {{ exceptions.raise_compiler_error(
            "semantic_search: mode must be one of " ~ (search_modes() | join(', ')) ~ ", got " ~ (mode | string)
        ) }}
    {%- endif -%}
    {#- every var checked first by the settings check the on-run-start hook runs (a search runs no hooks),
        when the search compiles to run; while dbt parses (an analysis calls this) nothing is read yet -#}
    {%- if execute -%}
        {%- do run_query(validate_settings()) -%}
    {%- endif -%}
    {%- set fusion_depth = var('search_fusion_depth') | int -%}
    {%- set exact_max = var('search_exact_max_chunks') | int -%}
    {%- set filters = search_filters(ticker, period, as_of) -%}
    {%- set target = search_target(filters) -%}
    {%- set dense_weight = hybrid_dense_weight_sql(target.run.run_id) -%}
    {%- set relation = target.relation -%}
    {%- set vectors = target.vectors -%}
    {%- set query = sql_string(query_text) -%}
    {#- the query's vector cut to the dims search_chunks serves (all of them, or its Matryoshka prefix) -#}
    {%- set query_vector = "list_slice(vectorfin_embed(" ~ query ~ ", " ~ sql_string(target.run.artifact_path)
        ~ "), 1, " ~ target.vector_type[6:-1] ~ ")::" ~ target.vector_type -%}
    {%- set depth = [limit, fusion_depth] | max if mode == 'hybrid' else limit -%}
    {%- set exact = filters and target.kept <= exact_max -%}
    {%- set fetch = depth if not filters else
        [target.chunks, (4 * depth * target.chunks / [target.kept, 1] | max) | round(0, 'ceil') | int] | min -%}
    with
    {%- if mode != 'keyword' %}
    dense_nearest as (

        {%- if exact %}
        {#- every chunk the filters keep; a similarity ordered by two keys, which the HNSW rewrite leaves alone -#}
        select
            chunk_id,
            1 - array_cosine_similarity(
                embedding, {{ query_vector }}
            ) as distance
        from {{ vectors }}
        where {{ filters | join(' and ') }}
        order by distance, chunk_id
        limit {{ depth }}
        {%- else %}
        {#- ORDER BY array_cosine_distance(embedding, <constant>) LIMIT n: the HNSW index scan -#}
        select
            chunk_id,
            ticker,
            fiscal_period,
            knowledge_ts,
            array_cosine_distance(
                embedding, {{ query_vector }}
            ) as distance
        from {{ vectors }}
        order by distance
        limit {{ fetch }}
        {%- endif %}

    ),

    dense_ranked as (

        select
            chunk_id,
            1 - distance as cosine_similarity,
            row_number() over (order by distance, chunk_id) as dense_rank
        from dense_nearest
        {%- if filters and not exact %}
        where {{ filters | join(' and ') }}
        {%- endif %}
        qualify dense_rank <= {{ depth }}

    ),
    {%- endif %}
    {%- if mode != 'dense' %}

    keyword_scored as (

        select
            chunk_id,
            {{ target.fts_schema }}.match_bm25(chunk_id, {{ query }}) as bm25
        from {{ relation }}
        {%- if filters %}
        where {{ filters | join(' and ') }}
        {%- endif %}

    ),

    keyword_best as (

        select
            chunk_id,
            bm25
        from keyword_scored
        where bm25 is not null
        order by bm25 desc, chunk_id
        limit {{ depth }}

    ),

    keyword_ranked as (

        select
            chunk_id,
            bm25,
            row_number() over (order by bm25 desc, chunk_id) as keyword_rank
        from keyword_best

    ),
    {%- endif %}

    scored as (

        {%- if mode == 'dense' %}
        select
            chunk_id,
            cosine_similarity as score,
            dense_rank,
            null::bigint as keyword_rank
        from dense_ranked
        {%- elif mode == 'keyword' %}
        select
            chunk_id,
            bm25 as score,
            null::bigint as dense_rank,
            keyword_rank
        from keyword_ranked
        {%- else %}
        select
            coalesce(dense_ranked.chunk_id, keyword_ranked.chunk_id) as chunk_id,
            vectorfin_rrf_score(
                coalesce(dense_ranked.dense_rank::double, 'infinity'),
                coalesce(keyword_ranked.keyword_rank::double, 'infinity'),
                {{ dense_weight }}
            ) as score,
            dense_ranked.dense_rank,
            keyword_ranked.keyword_rank
        from dense_ranked
        full outer join keyword_ranked on dense_ranked.chunk_id = keyword_ranked.chunk_id
        {%- endif %}

    )

    select
        scored.score,
        chunks.chunk_id,
        chunks.ticker,
        chunks.fiscal_period,
        chunks.knowledge_ts,
        chunks.chunk_text,
        chunks.model_run_id,
        scored.dense_rank,
        scored.keyword_rank
    from scored
    inner join {{ relation }} as chunks on scored.chunk_id = chunks.chunk_id
    {# top-k by qualify, not a trailing limit, so `dbt show` (which appends its own limit) can run it #}
    qualify row_number() over (order by scored.score desc, chunks.chunk_id) <= {{ limit }}
    order by scored.score desc, chunks.chunk_id
{% endmacro %}


{% macro print_semantic_search(query, k=5, mode='dense', ticker=none, period=none, as_of=none) %}
    {#- `dbt run-operation print_semantic_search --args '{query: "...", k: 5, mode: hybrid, as_of: 2023-06-30}'`
        prints the hits; the arguments are semantic_search's. -#}
    {%- set hits = run_query(semantic_search(query, k, mode, ticker, period, as_of)) -%}
    {%- if hits.rows | length == 0 -%}
        {{ log("No chunk matches the filters (ticker, period, as_of) of this search.", info=true) }}
    {%- endif -%}
    {%- do hits.print_table(max_rows=none, max_columns=none, max_column_width=100) -%}
{% endmacro %}
