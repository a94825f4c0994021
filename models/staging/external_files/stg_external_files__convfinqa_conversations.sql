-- ConvFinQA dev conversations, one row per conversation: its first question, and the 10-K page it is
-- asked about as one text (the text before the table, the table, the text after it). The table is
-- stored column-wise ({column: {row label: value}}); it becomes a header line of column names and one
-- line per row label with its value in each column, cells joined by ' | '. Pages asked about by
-- several conversations (`Single_X/2017/page_5.pdf-1`, `-2`, `Double_X/2017/page_5.pdf`) share one page_id.
with source as (

    {{ external_file_rows('external_files', 'convfinqa_dev') }}

),

conversations as (

    select unnest(source.dev) as conversation
    from source

),

conversation_fields as (

    -- unnest(struct) spreads the conversation's fields into columns: id, doc, dialogue
    select unnest(conversations.conversation)
    from conversations

),

unpacked as (

    select
        conversation_fields.id as conversation_id,
        regexp_replace(conversation_fields.id, '^(Single_|Double_)?(.+?)(-[0-9]+)?$', '\2') as page_id,
        conversation_fields.dialogue.conv_questions[1] as first_question,
        conversation_fields.doc.pre_text as page_pre_text,
        conversation_fields.doc.post_text as page_post_text,
        map_keys(conversation_fields.doc.table) as column_names,
        map_values(conversation_fields.doc.table) as table_columns
    from conversation_fields

),

flattened as (

    select
        *,
        coalesce(map_keys(table_columns[1]), []) as row_labels
    from unpacked

)

select
    conversation_id,
    page_id,
    {{ clean_text('first_question') }} as first_question,
    concat_ws(
        chr(10),
        nullif({{ clean_text('page_pre_text') }}, ''),
        nullif(
            array_to_string(
                list_concat(
                    [' | ' || array_to_string(column_names, ' | ')],
                    list_transform(
                        row_labels,
                        row_label -> row_label || ' | ' || array_to_string(
                            list_transform(
                                table_columns, table_column -> coalesce(table_column[row_label] ->> '$', '')
                            ),
                            ' | '
                        )
                    )
                ),
                chr(10)
            ),
            ' | '
        ),
        nullif({{ clean_text('page_post_text') }}, '')
    ) as page_text
from flattened
