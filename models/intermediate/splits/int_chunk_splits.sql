-- Every curated chunk's split and whether training may use it:
--   split                 its company's split (int_company_splits)
--   is_before_cutoff      knowledge_ts < var training_cutoff (point in time: text public before the cutoff)
--   near_eval_chunk_id    for train-split chunks: an eval-split chunk whose content-word MinHash estimate
--                         is >= var leakage_jaccard (LSH band candidates, see macros/quality/minhash.sql),
--                         i.e. a near duplicate across the split boundary; null when there is none
--   is_eval_document      its document (doc_id) holds an eval-split chunk
--   is_trainable          train split, not an eval document, before the cutoff, no near duplicate in eval
with chunks as (

    select
        chunks.chunk_id,
        chunks.doc_id,
        chunks.ticker,
        chunks.knowledge_ts,
        splits.split
    from {{ ref('int_chunks_curated') }} as chunks
    inner join {{ ref('int_company_splits') }} as splits on chunks.ticker = splits.ticker

),

eval_documents as (

    select distinct doc_id
    from chunks
    where split = 'eval'

),

signatures as (

    select
        minhash.*,
        chunks.split
    from {{ ref('int_chunk_minhash') }} as minhash
    inner join chunks on minhash.chunk_id = chunks.chunk_id

),

bands as (

    {{ unpivot_minhash_bands('signatures', ['split']) }}

),

cross_split_candidates as (

    select distinct
        train_band.chunk_id as train_chunk_id,
        eval_band.chunk_id as eval_chunk_id
    from bands as train_band
    inner join bands as eval_band
        on train_band.band_no = eval_band.band_no
            and train_band.band_key = eval_band.band_key
    where train_band.split = 'train' and eval_band.split = 'eval'

),

near_eval as (

    select
        candidates.train_chunk_id,
        -- the most similar eval chunk; of equally similar ones the least chunk_id (not row order)
        arg_min(
            candidates.eval_chunk_id,
            (
                -{{ minhash_agreement('train_signature.signature', 'eval_signature.signature') }},
                candidates.eval_chunk_id
            )
        ) as near_eval_chunk_id
    from cross_split_candidates as candidates
    inner join signatures as train_signature on candidates.train_chunk_id = train_signature.chunk_id
    inner join signatures as eval_signature on candidates.eval_chunk_id = eval_signature.chunk_id
    where
        {{ minhash_agreement('train_signature.signature', 'eval_signature.signature') }}
        >= {{ number_var('leakage_jaccard') }}
    group by candidates.train_chunk_id

)

select
    chunks.chunk_id,
    chunks.doc_id,
    chunks.ticker,
    chunks.split,
    eval_documents.doc_id is not null as is_eval_document,
    coalesce(chunks.knowledge_ts < {{ training_cutoff() }}, false) as is_before_cutoff,
    near_eval.near_eval_chunk_id,
    chunks.split = 'train'
    and eval_documents.doc_id is null
    and coalesce(chunks.knowledge_ts < {{ training_cutoff() }}, false)
    and near_eval.near_eval_chunk_id is null as is_trainable
from chunks
left join eval_documents on chunks.doc_id = eval_documents.doc_id
left join near_eval on chunks.chunk_id = near_eval.train_chunk_id
