{% test no_train_eval_leakage(model, chunk_id_columns, doc_id_columns, text_columns=[], ticker_column='ticker') %}
{#- Fails on every training row that touches evaluation data:
      eval_chunk                    a chunk id of an eval-split company
      near_duplicate_of_eval_chunk  a chunk int_chunk_splits found near-duplicating an eval chunk
      unknown_chunk                 a chunk id that is no curated chunk (cannot be vouched for)
      eval_document                 a document id that holds eval-split chunks
      eval_company                  the row's ticker is an eval-split company
      eval_text                     a text equal (normalised hash) to an eval chunk's text
    Chunk ids that are not chunks by design (risk_factor:<name> anchors) are skipped. -#}
with examples as (

    select * from {{ model }}

),

chunk_splits as (

    select
        splits.*,
        chunks.text_hash
    from {{ ref('int_chunk_splits') }} as splits
    inner join {{ ref('int_chunks_curated') }} as chunks on splits.chunk_id = chunks.chunk_id

),

eval_documents as (

    select distinct doc_id from chunk_splits where split = 'eval'

),

eval_tickers as (

    select ticker from {{ ref('int_company_splits') }} where split = 'eval'

),

eval_texts as (

    select distinct text_hash from chunk_splits where split = 'eval'

),

violations as (

    {%- for column in chunk_id_columns %}
    select
        {{ sql_string(column) }} as leak_column,
        examples.{{ column }} as leaked_value,
        case
            when chunk_splits.chunk_id is null then 'unknown_chunk'
            when chunk_splits.split = 'eval' then 'eval_chunk'
            else 'near_duplicate_of_eval_chunk'
        end as leak
    from examples
    left join chunk_splits on examples.{{ column }} = chunk_splits.chunk_id
    where
        examples.{{ column }} is not null
        and examples.{{ column }} not like 'risk_factor:%'
        and (
            chunk_splits.chunk_id is null
            or chunk_splits.split = 'eval'
            or chunk_splits.near_eval_chunk_id is not null
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
