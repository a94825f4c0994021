-- STS Benchmark sentence pairs, one row per line of sts-train/dev/test.csv: split, genre, gold score
-- (0-5) and the two sentences. The files are tab-separated with no quoting, and some rows carry two
-- extra fields, so lines are split here and only the first seven fields are read.
with source as (

    {{ external_file_rows('external_files', 'stsb') }}

),

lines as (

    select
        regexp_extract(source.filename, 'sts-([a-z]+)\.csv$', 1) as stsb_split,
        unnest(string_split(source.content, chr(10))) as file_line,
        unnest(generate_series(1, len(string_split(source.content, chr(10))))) as line_no
    from source

),

fields as (

    select
        stsb_split,
        line_no,
        string_split(file_line, chr(9)) as field_values
    from lines
    where trim(file_line) <> ''

)

select
    stsb_split || ':' || line_no as stsb_pair_id,
    stsb_split as split,
    field_values[1] as genre,
    try_cast(field_values[5] as double) as score,
    {{ clean_text('field_values[6]') }} as sentence_1,
    {{ clean_text('field_values[7]') }} as sentence_2
from fields
