{% macro boilerplate_kind(text_column, speaker_role_column=none) -%}
    {#- Names the kind of boilerplate a chunk is, or null. Text that says nothing about the business
        teaches the embedding model nothing, so quarantine drops these with the kind as reason. -#}
    case
        {%- if speaker_role_column %}
        when {{ speaker_role_column }} = 'operator' then 'operator_line'
        {%- endif %}
        when regexp_matches(
            lower({{ text_column }}),
            'forward-looking statements|safe harbou?r|private securities litigation reform act'
        ) then 'safe_harbour'
        when regexp_matches(lower({{ text_column }}), '^(table of contents|index)\b')
            or regexp_matches({{ text_column }}, '(\.{5,}|\s\d{1,3}\s+item\s\d)', 'i')
            then 'table_of_contents'
        when regexp_matches(
            {{ text_column }},
            '^(page \d+|\d+ of \d+|\d+|united states securities and exchange commission.{0,60})$',
            'i'
        ) then 'page_header'
    end
{%- endmacro %}
