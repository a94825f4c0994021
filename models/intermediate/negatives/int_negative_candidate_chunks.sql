-- The curated chunks a hard negative may be (every chunk rule, both rounds): trainable ones only (train
-- split, before the cutoff, no evaluation near duplicate: int_chunk_splits), with what the rules match on.
with chunks as (

    select * from {{ ref('int_chunks_curated') }}

),

splits as (

    select * from {{ ref('int_chunk_splits') }}

)

select
    chunks.chunk_id,
    chunks.doc_id,
    chunks.ticker,
    chunks.fiscal_period,
    chunks.chunk_kind,
    chunks.section,
    chunks.text_hash
from chunks
inner join splits on chunks.chunk_id = splits.chunk_id
where splits.is_trainable
