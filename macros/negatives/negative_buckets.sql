{% macro negative_bucket_count() -%}
    {#- The buckets of a pool of candidates (a section's chunks, a labelled source's passages), about 8
        candidates each, as an aggregate over the pool: a pair draws its negatives from its own bucket
        (negative_bucket), so they spread over the pool rather than always being the same few. -#}
    greatest(1, count(*) // 8)
{%- endmacro %}


{% macro negative_bucket(key, n_buckets) -%}
    {#- The bucket, in 0 .. n_buckets - 1, of a candidate or a pair, by a stable hash of `key`. -#}
    floor({{ stable_fraction(key, 'negative_bucket') }} * {{ n_buckets }})
{%- endmacro %}
