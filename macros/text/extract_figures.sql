{% macro extract_figures(text_column) -%}
    {#- The figures a text states, normalised so that "$1,234.50", "1234.5" and "1,234.50%" all give
        '1234.5'. Kept: numbers with a thousands separator or decimals, and whole numbers of two digits
        or more. Left out: years (1900-2099 without decimals), numbers glued to letters or hyphens
        ("q1", "10-K", "3rd", "2019-2020"): they say when or which, not how much. -#}
    list_distinct(
        list_transform(
            list_filter(
                regexp_extract_all(
                    {{ text_column }}, '(?:^|[^A-Za-z0-9.,\-])\$?(\d[\d,]*(?:\.\d+)?[A-Za-z\-]*)', 1
                ),
                figure -> regexp_full_match(figure, '(\d{1,3}(,\d{3})+|\d+)(\.\d+)?')
                    and not regexp_full_match(figure, '(19|20)\d{2}|\d')
            ),
            figure -> case
                when contains(figure, '.') then rtrim(rtrim(replace(figure, ',', ''), '0'), '.')
                else replace(figure, ',', '')
            end
        )
    )
{%- endmacro %}
