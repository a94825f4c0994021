-- The labelled passages a hard negative may be (the rules for labelled positives): trainable ones
-- (int_document_splits), long enough to be a passage (var min_chunk_chars, as a curated chunk).
with passages as (

    select * from {{ ref('int_labelled_passages') }}

),

splits as (

    select * from {{ ref('int_document_splits') }}

)

select
    passages.passage_key,
    passages.labelled_source,
    passages.group_id,
    passages.passage_text
from passages
inner join splits on passages.passage_key = splits.document_id
where splits.is_trainable and length(passages.passage_text) >= {{ number_var('min_chunk_chars') }}
