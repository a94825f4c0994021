-- The chunks that pass curation (int_chunk_quality_flags), transcripts and filings in one shape.
-- Everything else is in the rejected_chunks mart with its reasons: rows in = kept + quarantined.
-- Incremental (macros/incremental/chunk_increments.sql): the flags are recomputed over all history every
-- run (a new chunk can be the first public copy of an old one), and this table follows them: kept chunk
-- versions it lacks are added, and chunks no longer kept (now a duplicate, or gone) are deleted.
{{ config(
    post_hook="{{ delete_chunks_not_in([ref('int_chunk_quality_flags')], 'not kept.is_rejected') }}",
    **chunk_increment_config()
) }}

select chunks.*
from {{ ref('int_chunks_unioned') }} as chunks
inner join {{ ref('int_chunk_quality_flags') }} as flags on chunks.chunk_id = flags.chunk_id
where not flags.is_rejected and {{ unseen_chunk_versions('chunks') }}
