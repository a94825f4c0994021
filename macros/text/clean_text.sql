{% macro clean_text(column) -%}
    {#- NFC unicode, typographic quotes, dashes and non-breaking spaces made plain, whitespace collapsed. -#}
    trim(
        regexp_replace(
            translate(
                nfc_normalize({{ column }}),
                chr(160) || chr(8216) || chr(8217) || chr(8220) || chr(8221) || chr(8211) || chr(8212) || chr(8230),
                ' ''''""--.'
            ),
            '\s+',
            ' ',
            'g'
        )
    )
{%- endmacro %}
