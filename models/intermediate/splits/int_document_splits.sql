-- The split of every document a pair can point at, one row per document, so that int_pairs_split
-- treats them alike:
--   curated chunks     int_chunk_splits: by company, with the cutoff and the eval near-duplicate check
--   labelled passages  int_labelled_passages: by group (a TAT-QA context, a seed group); a group is
--                      wholly on one side, so no passage shares a document with the other split
select
    chunk_id as document_id,
    doc_id,
    split,
    is_eval_document,
    is_before_cutoff,
    near_eval_chunk_id,
    is_trainable
from {{ ref('int_chunk_splits') }}

union all

select
    passage_key as document_id,
    {{ labelled_key('labelled_source', 'group_id') }} as doc_id,
    split,
    false as is_eval_document,
    coalesce(knowledge_ts < {{ training_cutoff() }}, false) as is_before_cutoff,
    cast(null as varchar) as near_eval_chunk_id,
    split = 'train' and coalesce(knowledge_ts < {{ training_cutoff() }}, false) as is_trainable
from {{ ref('int_labelled_passages') }}
