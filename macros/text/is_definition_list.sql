{% macro is_definition_list(text_column) -%}
    {#- Whether a text is a list of defined terms ("1.222 Wildfire Insurance Proceeds means any proceeds
        ..."): it opens with a numbered definition, or defines two terms or more. Such a list names
        risks ("wildfires") without discussing them. -#}
    (
        regexp_matches({{ text_column }}, '^\s*\d+(?:\.\d+)+\s+(?:[A-Z][^\s]*\s+){1,8}(?:means|shall mean|has the meaning)\b')
        or len(
            regexp_extract_all(
                {{ text_column }},
                '(?:^|[.;:]\s+|\d\s+)(?:[A-Z][A-Za-z0-9\-&''()/.,]*\s+){1,8}(?:means|shall mean|has the meaning)\b'
            )
        ) >= 2
    )
{%- endmacro %}
