-- The chunks semantic search serves: every chunk the published run embedded (chunk_embeddings), with the
-- text and the columns searches filter on (ticker, fiscal period, knowledge_ts), and two indexes
-- (macros/search/search_indexes.sql): BM25 over `chunk_text` (keyword search), built by a post-hook in the
-- same transaction as the table, and HNSW over `embedding` (dense search), built after the commit in a
-- DuckDB file of its own that is published whole by a rename (vectorfin.search_index: the warehouse file
-- never holds a custom index). Rebuilt whole on every build, so the indexes always match the published
-- run; nothing updates it in place. With var search_embedding_dims it serves the first that many dims of
-- each vector (unit length again): less memory per chunk and a smaller index, at the NDCG@10
-- retrieval_metrics reports for tuned@<dims>.
{{ config(
    materialized='table',
    post_hook=[
        "{{ create_fts_index(this) }}",
        {'sql': "{{ build_hnsw_index_file(this) }}", 'transaction': false},
    ],
) }}

with embeddings as (

    select
        chunk_id,
        model_run_id,
        {% if var('search_embedding_dims') is none -%}
            embedding
        {%- else -%}
            {{ unit_prefix('embedding', var('search_embedding_dims')) }} as embedding
        {%- endif %}
    from {{ ref('chunk_embeddings') }}

),

chunks as (

    select
        chunk_id,
        ticker,
        fiscal_period,
        knowledge_ts,
        chunk_text
    from {{ ref('int_chunks_curated') }}

)

select
    chunks.chunk_id,
    chunks.ticker,
    chunks.fiscal_period,
    chunks.knowledge_ts,
    chunks.chunk_text,
    embeddings.model_run_id,
    embeddings.embedding,
    '{{ invocation_id }}' as build_id
from embeddings
inner join chunks on embeddings.chunk_id = chunks.chunk_id
