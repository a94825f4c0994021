-- Hard negatives for every training pair (int_pairs_split: split_status = 'train'): one row per
-- (pair, negative), var negatives_per_pair per pair, each with the rule that chose it. Candidates are
-- trainable chunks only (train split, before the cutoff, no eval near duplicate: int_chunk_splits),
-- never from the anchor's or the positive's document (rule 4 excepted) and never the text of either.
-- Rules, in order:
--   1 same_company_other_period    the pair's company, a fiscal period neither text is from; the same
--                                  kind (transcript/filing) and section first, then a fixed hash order
--   2 same_section_other_company   the positive's section (q_and_a, item_1a, ...) of another company,
--                                  drawn from a hash bucket of that section (spread, not always the same few)
--   3 lexically_close_other_doc    the chunks sharing most idf weight of rare terms with the positive
--   4 same_group_non_answer        (a labelled passage positive) a passage of the pair's own group (the
--                                  same report) that the labels say does not answer the question: the
--                                  passage a reader confuses with the answer. The one exception to "never
--                                  the positive's document": labels name every answer, chunks do not.
--   5 same_source_other_group      (a labelled passage positive) a trainable passage of the same labelled
--                                  source from another group, drawn from a hash bucket of ~8 passages
-- In round 2 (var hard_negative_round: 2) rule 0 comes first:
--   0 embedding_neighbour          the trainable chunks a previous run's model puts nearest the pair,
--                                  under a false-negative margin (int_pairs_embedding_negatives)
-- A pair takes the rules' candidates in that order until it has enough. A pair no
-- rule finds a negative for keeps one row with null negative_chunk_id and negative_rule 'none_found'
-- (training_pairs leaves it out; the quality gate reads this model's pair ids and counts it as a pair
-- with 0 negatives, so nothing vanishes unseen).
{%- set n_negatives = var('negatives_per_pair') | int %}
{%- set pool_depth = n_negatives + 2 %}
with pairs as (

    select
        pairs.*,
        splits.split_status
    from {{ ref('int_pairs_unioned') }} as pairs
    inner join {{ ref('int_pairs_split') }} as splits on pairs.pair_id = splits.pair_id
    where splits.split_status = 'train'

),

chunks as (

    select * from {{ ref('int_chunks_curated') }}

),

candidates as (

    select chunks.*
    from chunks
    inner join {{ ref('int_chunk_splits') }} as splits on chunks.chunk_id = splits.chunk_id
    where splits.is_trainable

),

pair_context as (

    select
        pairs.pair_id,
        pairs.ticker,
        pairs.anchor_chunk_id,
        pairs.anchor_doc_id,
        pairs.positive_chunk_id,
        pairs.positive_doc_id,
        anchor.fiscal_period as anchor_fiscal_period,
        positive.fiscal_period as positive_fiscal_period,
        {{ excluded_negative_text_hashes('pairs', 'anchor', 'positive') }} as excluded_text_hashes,
        positive.chunk_kind as positive_kind,
        positive.section as positive_section
    from pairs
    left join chunks as anchor on pairs.anchor_chunk_id = anchor.chunk_id
    inner join chunks as positive on pairs.positive_chunk_id = positive.chunk_id

),

-- rule 1: a few chunks of each (company, period, kind, section), in a fixed hash order
company_pool as (

    select
        chunk_id,
        doc_id,
        ticker,
        fiscal_period,
        chunk_kind,
        section,
        text_hash
    from candidates
    qualify row_number() over (
            partition by ticker, fiscal_period, chunk_kind, section
            order by {{ stable_fraction('chunk_id', 'negative_pool') }}
        ) <= {{ pool_depth }}

),

same_company_other_period as (

    select
        pair_context.pair_id,
        company_pool.chunk_id as negative_chunk_id,
        1 as rule_priority,
        'same_company_other_period' as negative_rule,
        row_number() over (
            partition by pair_context.pair_id
            order by
                company_pool.chunk_kind = pair_context.positive_kind desc,
                company_pool.section = pair_context.positive_section desc,
                {{ stable_fraction("pair_context.pair_id || company_pool.chunk_id", 'negative_pick') }}
        ) as rule_rank
    from pair_context
    inner join company_pool
        on pair_context.ticker = company_pool.ticker
            and pair_context.positive_fiscal_period <> company_pool.fiscal_period
            and company_pool.fiscal_period <> coalesce(pair_context.anchor_fiscal_period, '')
            and company_pool.doc_id not in (pair_context.anchor_doc_id, pair_context.positive_doc_id)
            and not list_contains(pair_context.excluded_text_hashes, company_pool.text_hash)
    qualify rule_rank <= {{ n_negatives }}

),

-- rule 2: each section's chunks spread over hash buckets of ~8 chunks; a pair draws from its own bucket
section_sizes as (

    select
        section,
        greatest(1, count(*) // 8) as n_buckets
    from candidates
    group by section

),

section_pool as (

    select
        candidates.chunk_id,
        candidates.doc_id,
        candidates.ticker,
        candidates.section,
        candidates.text_hash,
        floor({{ stable_fraction('candidates.chunk_id', 'negative_bucket') }} * section_sizes.n_buckets) as bucket
    from candidates
    inner join section_sizes on candidates.section = section_sizes.section

),

pair_buckets as (

    select
        pair_context.*,
        floor(
            {{ stable_fraction('pair_context.pair_id', 'negative_bucket') }} * section_sizes.n_buckets
        ) as bucket
    from pair_context
    inner join section_sizes on pair_context.positive_section = section_sizes.section

),

same_section_other_company as (

    select
        pair_buckets.pair_id,
        section_pool.chunk_id as negative_chunk_id,
        2 as rule_priority,
        'same_section_other_company' as negative_rule,
        row_number() over (
            partition by pair_buckets.pair_id
            order by {{ stable_fraction("pair_buckets.pair_id || section_pool.chunk_id", 'negative_pick') }}
        ) as rule_rank
    from pair_buckets
    inner join section_pool
        on pair_buckets.positive_section = section_pool.section
            and pair_buckets.bucket = section_pool.bucket
    where
        section_pool.ticker <> pair_buckets.ticker
        and section_pool.doc_id not in (pair_buckets.anchor_doc_id, pair_buckets.positive_doc_id)
        and not list_contains(pair_buckets.excluded_text_hashes, section_pool.text_hash)
    qualify rule_rank <= {{ n_negatives }}

),

-- rule 3: shared rare terms (int_chunk_rare_terms), summed idf
rare_terms as (

    select * from {{ ref('int_chunk_rare_terms') }}

),

candidate_terms as (

    select
        rare_terms.chunk_id,
        rare_terms.token,
        rare_terms.idf,
        candidates.doc_id,
        candidates.text_hash
    from rare_terms
    inner join candidates on rare_terms.chunk_id = candidates.chunk_id

),

lexical_scores as (

    select
        pair_context.pair_id,
        candidate_terms.chunk_id as negative_chunk_id,
        sum(candidate_terms.idf) as score
    from pair_context
    inner join rare_terms as positive_terms on pair_context.positive_chunk_id = positive_terms.chunk_id
    inner join candidate_terms
        on positive_terms.token = candidate_terms.token
            and candidate_terms.doc_id not in (pair_context.anchor_doc_id, pair_context.positive_doc_id)
            and not list_contains(pair_context.excluded_text_hashes, candidate_terms.text_hash)
    group by pair_context.pair_id, candidate_terms.chunk_id

),

lexically_close_other_doc as (

    select
        pair_id,
        negative_chunk_id,
        3 as rule_priority,
        'lexically_close_other_doc' as negative_rule,
        row_number() over (partition by pair_id order by score desc, negative_chunk_id asc) as rule_rank
    from lexical_scores
    qualify rule_rank <= {{ n_negatives }}

),

-- rules 4 and 5: labelled passages (trainable, long enough to be a passage)
labelled_candidates as (

    select
        passages.passage_key,
        passages.labelled_source,
        passages.group_id,
        passages.passage_text
    from {{ ref('int_labelled_passages') }} as passages
    inner join {{ ref('int_document_splits') }} as splits on passages.passage_key = splits.document_id
    where splits.is_trainable and length(passages.passage_text) >= {{ number_var('min_chunk_chars') }}

),

labelled_sizes as (

    select
        labelled_source,
        greatest(1, count(*) // 8) as n_buckets
    from labelled_candidates
    group by labelled_source

),

labelled_pool as (

    select
        labelled_candidates.*,
        floor(
            {{ stable_fraction('labelled_candidates.passage_key', 'negative_bucket') }} * labelled_sizes.n_buckets
        ) as bucket
    from labelled_candidates
    inner join labelled_sizes on labelled_candidates.labelled_source = labelled_sizes.labelled_source

),

labelled_pair_groups as (

    select
        pairs.pair_id,
        pairs.anchor_text,
        pairs.positive_chunk_id,
        pairs.positive_text,
        passages.labelled_source,
        passages.group_id
    from pairs
    inner join {{ ref('int_labelled_passages') }} as passages on pairs.positive_chunk_id = passages.passage_key

),

-- every passage labelled as answering a question (a question can have several: a table and a paragraph)
labelled_answers as (

    select
        labelled_source,
        group_id,
        question_text,
        passage_key
    from {{ ref('int_labelled_questions') }}

),

same_group_non_answer as (

    select
        pair_group.pair_id,
        passage.passage_key as negative_chunk_id,
        4 as rule_priority,
        'same_group_non_answer' as negative_rule,
        row_number() over (
            partition by pair_group.pair_id
            order by {{ stable_fraction("pair_group.pair_id || passage.passage_key", 'negative_pick') }}
        ) as rule_rank
    from labelled_pair_groups as pair_group
    inner join labelled_candidates as passage
        on pair_group.labelled_source = passage.labelled_source
            and pair_group.group_id = passage.group_id
            and pair_group.positive_chunk_id <> passage.passage_key
            and passage.passage_text not in (pair_group.anchor_text, pair_group.positive_text)
    left join labelled_answers as answer
        on pair_group.labelled_source = answer.labelled_source
            and pair_group.group_id = answer.group_id
            and pair_group.anchor_text = answer.question_text
            and passage.passage_key = answer.passage_key
    where answer.passage_key is null
    qualify rule_rank <= {{ n_negatives }}

),

labelled_pair_buckets as (

    select
        labelled_pair_groups.pair_id,
        labelled_pair_groups.labelled_source,
        labelled_pair_groups.group_id,
        floor(
            {{ stable_fraction('labelled_pair_groups.pair_id', 'negative_bucket') }} * labelled_sizes.n_buckets
        ) as bucket
    from labelled_pair_groups
    inner join labelled_sizes on labelled_pair_groups.labelled_source = labelled_sizes.labelled_source

),

same_source_other_group as (

    select
        labelled_pair_buckets.pair_id,
        labelled_pool.passage_key as negative_chunk_id,
        5 as rule_priority,
        'same_source_other_group' as negative_rule,
        row_number() over (
            partition by labelled_pair_buckets.pair_id
            order by
                {{ stable_fraction("labelled_pair_buckets.pair_id || labelled_pool.passage_key", 'negative_pick') }}
        ) as rule_rank
    from labelled_pair_buckets
    inner join labelled_pool
        on labelled_pair_buckets.labelled_source = labelled_pool.labelled_source
            and labelled_pair_buckets.bucket = labelled_pool.bucket
            and labelled_pair_buckets.group_id <> labelled_pool.group_id
    qualify rule_rank <= {{ n_negatives }}

),

-- rule 0 (round 2 only): the previous run's nearest chunks under the false-negative margin
embedding_neighbours as (

    {%- if var('hard_negative_round') == 2 %}
        select
            pair_id,
            negative_chunk_id,
            0 as rule_priority,
            'embedding_neighbour' as negative_rule,
            rule_rank
        from {{ ref('int_pairs_embedding_negatives') }}
    {%- else %}
        select
            cast(null as varchar) as pair_id,
            cast(null as varchar) as negative_chunk_id,
            0 as rule_priority,
            'embedding_neighbour' as negative_rule,
            cast(null as bigint) as rule_rank
        where false
    {%- endif %}

),

all_candidates as (

    select * from embedding_neighbours
    union all
    select * from same_company_other_period
    union all
    select * from same_section_other_company
    union all
    select * from lexically_close_other_doc
    union all
    select * from same_group_non_answer
    union all
    select * from same_source_other_group

),

-- what a negative can be: a curated chunk or a labelled passage
documents as (

    select
        chunk_id as document_id,
        doc_id,
        chunk_text as document_text,
        knowledge_ts
    from chunks
    union all
    select
        passage_key as document_id,
        {{ labelled_key('labelled_source', 'group_id') }} as doc_id,
        passage_text as document_text,
        knowledge_ts
    from {{ ref('int_labelled_passages') }}

),

-- a chunk found by two rules counts once, for the earlier rule
distinct_candidates as (

    select *
    from all_candidates
    qualify row_number() over (partition by pair_id, negative_chunk_id order by rule_priority, rule_rank) = 1

),

-- numbered after the dedupe: a duplicate must not leave a gap that costs the pair a negative
chosen as (

    select
        pair_id,
        negative_chunk_id,
        negative_rule,
        row_number() over (partition by pair_id order by rule_priority, rule_rank) as negative_rank
    from distinct_candidates

)

select
    md5(pairs.pair_id || '|' || coalesce(negative.document_id, 'none_found')) as example_id,
    pairs.pair_id,
    pairs.strategy,
    pairs.anchor_chunk_id,
    pairs.anchor_doc_id,
    pairs.anchor_text,
    pairs.positive_chunk_id,
    pairs.positive_doc_id,
    pairs.positive_text,
    negative.document_id as negative_chunk_id,
    negative.doc_id as negative_doc_id,
    negative.document_text as negative_text,
    coalesce(chosen.negative_rule, 'none_found') as negative_rule,
    chosen.negative_rank,
    pairs.ticker,
    pairs.fiscal_period,
    greatest(pairs.knowledge_ts, negative.knowledge_ts) as knowledge_ts,
    pairs.strategy_weight
from pairs
left join chosen
    on pairs.pair_id = chosen.pair_id
        and chosen.negative_rank <= {{ n_negatives }}
left join documents as negative on chosen.negative_chunk_id = negative.document_id
