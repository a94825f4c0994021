-- TAT-QA dev passages, one row per passage: every paragraph of a context, and the context's table as
-- text (one line per row, its non-empty cells joined by ' | '). A context is one annual report's table
-- with the paragraphs around it; its table uid is the context's key.
with source as (

    {{ external_file_rows('external_files', 'tatqa_dev') }}

),

contexts as (

    select
        cast(source.table.uid as varchar) as context_id,
        source.table.table as table_rows,
        source.paragraphs
    from source

),

paragraphs as (

    select
        contexts.context_id,
        unnest(contexts.paragraphs) as paragraph
    from contexts

),

paragraph_fields as (

    -- unnest(struct) spreads the paragraph's fields into columns: uid, order, text
    select
        paragraphs.context_id,
        unnest(paragraphs.paragraph)  -- noqa: AL03
    from paragraphs

),

paragraph_passages as (

    select
        paragraph_fields.context_id,
        cast(paragraph_fields.uid as varchar) as passage_id,
        'paragraph' as passage_kind,
        paragraph_fields.order as passage_order,
        {{ clean_text('paragraph_fields.text') }} as passage_text
    from paragraph_fields

),

table_passages as (

    select
        contexts.context_id,
        contexts.context_id as passage_id,
        'table' as passage_kind,
        0 as passage_order,
        array_to_string(
            list_filter(
                list_transform(
                    contexts.table_rows,
                    row_cells -> array_to_string(
                        list_filter(list_transform(row_cells, cell -> {{ clean_text('cell') }}), cell -> cell <> ''),
                        ' | '
                    )
                ),
                table_line -> table_line <> ''
            ),
            chr(10)
        ) as passage_text
    from contexts

)

select * from paragraph_passages
union all
select * from table_passages
