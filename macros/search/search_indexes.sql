{% macro search_indexes(relation) %}
    {#- The names of the two indexes over `relation` (search_chunks), written once for the model that
        builds them and the macro that searches them: the HNSW index (DuckDB names indexes per schema),
        and the schema `fts_<schema>_<table>` that PRAGMA create_fts_index creates (its tables and the
        macro match_bm25). -#}
    {{ return({
        'hnsw_index': relation.identifier ~ '_embedding_hnsw',
        'fts_schema': 'fts_' ~ relation.schema ~ '_' ~ relation.identifier,
    }) }}
{% endmacro %}


{% macro create_hnsw_index(relation) %}
    {#- Post-hook of search_chunks: the vector index dense search uses (ORDER BY array_cosine_distance(...)
        LIMIT n on this table), with the usearch defaults of the vss extension (M 16, ef_construction 128,
        ef_search 64, raised to n when a search asks for more). Built inside the model's transaction,
        after the new table replaced the old one, so the index always matches the table it indexes. -#}
    create index {{ adapter.quote(search_indexes(relation).hnsw_index) }}
    on {{ relation }} using hnsw (embedding) with (metric = 'cosine')
{% endmacro %}


{% macro create_fts_index(relation) %}
    {#- Post-hook of search_chunks: the BM25 index keyword search uses, replacing the previous one
        (overwrite) in the same transaction as the table it indexes. Terms: lower case, accents stripped,
        Porter stems, English stop words; anything but letters, digits and periods separates terms, and so
        does a period at either end of the text or next to anything but a letter or digit. A period inside
        a term stays, so figures (4.2, 1.3) and abbreviations (u.s) are one term each: the keyword side
        exists for exact figures. match_bm25 splits the query the same way. -#}
    pragma create_fts_index(
        {{ sql_string(relation.schema ~ '.' ~ relation.identifier) }}, 'chunk_id', 'chunk_text',
        stemmer = 'porter',
        stopwords = 'english',
        ignore = {{ sql_string('\\.[^a-z0-9]|[^a-z0-9]\\.|^\\.|\\.$|[^a-z0-9.]+') }},
        strip_accents = 1, lower = 1, overwrite = 1
    )
{% endmacro %}
