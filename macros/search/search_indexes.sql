{% macro search_indexes(relation) %}
    {#- The full-text index over `relation` (search_chunks): the schema `fts_<schema>_<table>` that PRAGMA
        create_fts_index creates in the warehouse (its tables and the macro match_bm25), named once for
        the model that builds it and the macro that searches it. The HNSW index lives in a file of its
        own (vectorfin.search_index), never in the warehouse file. -#}
    {{ return({'fts_schema': 'fts_' ~ relation.schema ~ '_' ~ relation.identifier}) }}
{% endmacro %}


{% macro build_hnsw_index_file(relation) %}
    {#- Post-hook of search_chunks, after its commit, and the rebuild a search starts when the index file
        is lost or stale (ensure_hnsw_index_file): vectorfin_build_search_index copies the table's vectors
        and filter columns into a new DuckDB file, builds the HNSW index there, writes its manifest and
        publishes the file by one rename (vectorfin.search_index.build). Returns the statement that
        attaches it read-only: the hook's own SQL. A build killed at any point leaves the published file
        as it was. -#}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- set index = fromjson(run_query("select vectorfin_search_index()").rows[0][0]) -%}
    {%- do run_query("detach database if exists " ~ index.database) -%}
    {%- set published = run_query(
        "select vectorfin_build_search_index(" ~ sql_string(relation | string) ~ ")"
    ).rows[0][0] -%}
    {{ return("attach " ~ sql_string(published) ~ " as " ~ index.database ~ " (read_only)") }}
{% endmacro %}


{% macro ensure_hnsw_index_file(relation, build_id) %}
    {#- Before a search: attach the HNSW index file read-only when it indexes search_chunks' build
        `build_id`; when it is missing, unreadable or indexes another build (a build killed between the
        table's commit and the file's rename, a file deleted or copied from elsewhere), say so and
        rebuild it from search_chunks, which holds the published run's vectors. Returns the file's names
        (vectorfin.search_index.state). -#}
    {%- set index = fromjson(run_query("select vectorfin_search_index()").rows[0][0]) -%}
    {%- set problem = index.problem -%}
    {%- if not problem and index.build_id != build_id -%}
        {%- set problem = index.file ~ " indexes another build of " ~ relation ~ " (" ~ index.build_id ~ ")" -%}
    {%- endif -%}
    {%- if problem -%}
        {{ log("The search index file " ~ problem ~ ": rebuilding it from " ~ relation ~ ".", info=true) }}
        {%- do run_query(build_hnsw_index_file(relation)) -%}
    {%- else -%}
        {%- do run_query("attach if not exists " ~ sql_string(index.file) ~ " as " ~ index.database ~ " (read_only)") -%}
    {%- endif -%}
    {{ return(index) }}
{% endmacro %}


{% macro create_fts_index(relation) %}
    {#- Post-hook of search_chunks: the BM25 index keyword search uses, replacing the previous one
        (overwrite) in the same transaction as the table it indexes. Its term rules are written once, in
        vectorfin.keyword_index, which the benchmark comparing it with the evaluation's BM25 reads too. -#}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {{ return(run_query(
        "select vectorfin_keyword_index_sql(" ~ sql_string(relation.schema ~ '.' ~ relation.identifier)
        ~ ", 'chunk_id', 'chunk_text')"
    ).rows[0][0]) }}
{% endmacro %}
