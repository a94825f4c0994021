-- The chunks that pass curation (int_chunk_quality_flags), transcripts and filings in one shape.
-- Everything else is in the rejected_chunks mart with its reasons: rows in = kept + quarantined.
select chunks.*
from {{ ref('int_chunks_unioned') }} as chunks
inner join {{ ref('int_chunk_quality_flags') }} as flags on chunks.chunk_id = flags.chunk_id
where not flags.is_rejected
