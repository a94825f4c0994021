{% macro split_words(text_column) -%}
    {#- Distinct lower-case words and numbers of a text, as a list. A number's separators are dropped
        first ("2.71" -> 271, "1,234" -> 1234) so that figures stay one token each: two texts that
        differ only in their figures must not look alike. -#}
    list_distinct(
        string_split(
            regexp_replace(
                regexp_replace(lower({{ text_column }}), '([0-9])[.,]([0-9])', '\1\2', 'g'),
                '[^a-z0-9]+',
                ' ',
                'g'
            ),
            ' '
        )
    )
{%- endmacro %}


{% macro is_content_word(token_column, min_length=2) -%}
    {#- True for a word worth comparing: long enough (any number counts) and not a function word. -#}
    (
        (length({{ token_column }}) >= {{ min_length }} or regexp_full_match({{ token_column }}, '[0-9]+'))
        and {{ token_column }} not in {{ stopwords() }}
    )
{%- endmacro %}


{% macro capitalised_entities(text_column) -%}
    {#- Lower-cased capitalised words of three letters or more (names, products, places, "Revenue" at
        a sentence start too), function words dropped: the "entities" a summary bullet and its
        passage should share. -#}
    list_distinct(
        list_filter(
            list_transform(regexp_extract_all({{ text_column }}, '[A-Z][A-Za-z&]{2,}'), word -> lower(word)),
            word -> {{ is_content_word('word', 3) }}
        )
    )
{%- endmacro %}


{% macro prose_share(text_column) -%}
    {#- Share of a text's characters that are letters or spaces: prose is ~0.85, a flattened table of
        figures well under 0.7. -#}
    (length(regexp_replace({{ text_column }}, '[^A-Za-z ]', '', 'g')) / greatest(length({{ text_column }}), 1))
{%- endmacro %}
