-- Quarantine: every chunk curation rejected, one row per chunk, with the first reason by priority and
-- all of them (see int_chunk_quality_flags for the rules). Other systems read this table: reasons are
-- a stable vocabulary (accepted_values test in _marts.yml).
select
    chunks.chunk_id,
    chunks.doc_id,
    chunks.chunk_kind,
    chunks.source_dataset,
    chunks.raw_ticker,
    chunks.ticker,
    chunks.company,
    chunks.fiscal_period,
    chunks.chunk_idx,
    chunks.chunk_text,
    chunks.text_length,
    chunks.text_hash,
    chunks.knowledge_ts,
    chunks.ingested_at,
    flags.reason,
    flags.reasons,
    flags.duplicate_of_chunk_id
from {{ ref('int_chunks_unioned') }} as chunks
inner join {{ ref('int_chunk_quality_flags') }} as flags on chunks.chunk_id = flags.chunk_id
where flags.is_rejected
