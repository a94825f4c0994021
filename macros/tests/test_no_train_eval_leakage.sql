{% test no_train_eval_leakage(model, chunk_id_columns, doc_id_columns, text_columns=[], ticker_column='ticker') %}
{#- Fails on every training row that touches evaluation data:
      eval_chunk                    a document id (curated chunk or labelled passage) of the eval split
      near_duplicate_of_eval_chunk  a chunk int_chunk_splits found near-duplicating an eval chunk
      unknown_chunk                 an id that is no document int_document_splits knows (cannot be vouched for)
      eval_document                 a document id that holds eval-split chunks
      eval_company                  the row's ticker is an eval-split company
      eval_text                     a text equal (normalised hash) to an eval chunk's text
    Null ids (free-text anchors) are skipped. -#}
with examples as (

    select * from {{ model }}

),

document_splits as (

    select * from {{ ref('int_document_splits') }}

),

eval_documents as (

    select distinct doc_id from document_splits where split = 'eval'

),

eval_tickers as (

    select ticker from {{ ref('int_company_splits') }} where split = 'eval'

),

eval_texts as (

    select distinct chunks.text_hash
    from {{ ref('int_chunk_splits') }} as splits
    inner join {{ ref('int_chunks_curated') }} as chunks on splits.chunk_id = chunks.chunk_id
    where splits.split = 'eval'

),

violations as (

    {%- for column in chunk_id_columns %}
    select
        {{ sql_string(column) }} as leak_column,
        examples.{{ column }} as leaked_value,
        case
            when document_splits.document_id is null then 'unknown_chunk'
            when document_splits.split = 'eval' then 'eval_chunk'
            else 'near_duplicate_of_eval_chunk'
        end as leak
    from examples
    left join document_splits on examples.{{ column }} = document_splits.document_id
    where
        examples.{{ column }} is not null
        and (
            document_splits.document_id is null
            or document_splits.split = 'eval'
            or document_splits.near_eval_chunk_id is not null
        )
    union all
    {%- endfor %}
    {%- for column in doc_id_columns %}
    select
        {{ sql_string(column) }} as leak_column,
        examples.{{ column }} as leaked_value,
        'eval_document' as leak
    from examples
    inner join eval_documents on examples.{{ column }} = eval_documents.doc_id
    union all
    {%- endfor %}
    {%- for column in text_columns %}
    select
        {{ sql_string(column) }} as leak_column,
        examples.{{ column }} as leaked_value,
        'eval_text' as leak
    from examples
    inner join eval_texts on {{ normalized_text_hash('examples.' ~ column) }} = eval_texts.text_hash
    union all
    {%- endfor %}
    select
        {{ sql_string(ticker_column) }} as leak_column,
        examples.{{ ticker_column }} as leaked_value,
        'eval_company' as leak
    from examples
    inner join eval_tickers on examples.{{ ticker_column }} = eval_tickers.ticker

)

select * from violations
{% endtest %}
