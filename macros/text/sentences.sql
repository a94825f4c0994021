{% macro sentences(text_column) -%}
    {#- The sentences of a text: runs ending in . ! or ? followed by a space (or the end), so "4.5%"
        and "$1.2 billion" do not split; a trailing run without punctuation is a sentence too. -#}
    list_filter(
        list_transform(regexp_extract_all({{ text_column }}, '.*?(?:[.!?]+(?:\s+|$)|$)'), sentence -> trim(sentence)),
        sentence -> sentence <> ''
    )
{%- endmacro %}
