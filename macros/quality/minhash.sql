{#- MinHash-lite: 24 min-hashes of a chunk's content-word set, banded 6 x 4.

    Two sets with Jaccard similarity J agree on each min-hash with probability J, so the share of the
    24 that agree estimates J. Candidates are found by banding: chunks that agree on all 4 hashes of
    any of the 6 bands (probability 1 - (1 - J^4)^6: 0.96 at J = 0.8, 0.57 at J = 0.6, 0.04 at
    J = 0.3), and a candidate counts only when the estimate reaches the threshold. -#}

{% macro minhash_count() %}{{ return(24) }}{% endmacro %}
{% macro minhash_band_rows() %}{{ return(4) }}{% endmacro %}
{% macro minhash_bands() %}{{ return((minhash_count() / minhash_band_rows()) | int) }}{% endmacro %}




{% macro minhash_band_keys(signature_column) -%}
    {%- for band in range(minhash_bands()) %}
    hash(
        {%- for row in range(minhash_band_rows()) %}
        {{ signature_column }}[{{ band * minhash_band_rows() + row + 1 }}]{% if not loop.last %},{% endif %}
        {%- endfor %}
    ) as band_{{ band + 1 }}
    {%- if not loop.last %},{% endif %}
    {%- endfor %}
{%- endmacro %}


{% macro minhash_agreement(left_signature, right_signature) -%}
    {#- Estimated Jaccard similarity of two signatures: the share of min-hashes that agree. -#}
    (
        {%- for position in range(1, minhash_count() + 1) %}
        cast({{ left_signature }}[{{ position }}] = {{ right_signature }}[{{ position }}] as integer)
        {%- if not loop.last %} +{% endif %}
        {%- endfor %}
    ) / {{ minhash_count() }}.0
{%- endmacro %}


{% macro unpivot_minhash_bands(relation, extra_columns=[]) -%}
    {#- One row per (chunk, band): chunk_id, band_no, band_key (+ extra columns). -#}
    {%- for band in range(1, minhash_bands() + 1) %}
    select
        chunk_id,
        {%- for column in extra_columns %}
        {{ column }},
        {%- endfor %}
        {{ band }} as band_no,
        band_{{ band }} as band_key
    from {{ relation }}
    {%- if not loop.last %}
    union all
    {%- endif %}
    {%- endfor %}
{%- endmacro %}
