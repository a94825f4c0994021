{% macro unit_prefix(expression, dims) -%}
    {#- The first `dims` values of a vector, made unit length again, as FLOAT[dims]: the Matryoshka prefix
        search serves when var search_embedding_dims is set (training key matryoshka_dims trains such
        prefixes to work alone). Cosine similarity ignores length; the unit length keeps what
        search_chunks stores the same kind of vector as chunk_embeddings. -#}
    {%- set size = dims | int -%}
    list_transform(
        list_slice(({{ expression }})::float[], 1, {{ size }}),
        lambda value: value / sqrt(list_sum(list_transform(
            list_slice(({{ expression }})::float[], 1, {{ size }}), lambda part: part * part
        )))
    )::float[{{ size }}]
{%- endmacro %}
