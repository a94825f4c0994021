{% macro excluded_negative_text_hashes(pairs, anchor, positive) -%}
    {#- The normalized text hashes a pair's hard negative must not have (every negative rule, both rounds):
        the text of the anchor's and the positive's chunks, and of either side of the pair itself, which
        can be a span of its chunk that another chunk repeats word for word (a filing's boilerplate).
        `anchor` may be a left-joined chunk (null for a non-chunk anchor). -#}
    list_filter(
        [
            {{ anchor }}.text_hash,
            {{ positive }}.text_hash,
            {{ normalized_text_hash(pairs ~ '.anchor_text') }},
            {{ normalized_text_hash(pairs ~ '.positive_text') }}
        ],
        text_hash -> text_hash is not null
    )
{%- endmacro %}
