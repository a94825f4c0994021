-- Strategy filing_headings: a filing heading -> the paragraph under it; failing that, a passage's topic
-- sentence -> the rest of the passage. One pair per curated filing chunk, both texts from that chunk
-- (anchor_chunk_id = positive_chunk_id; the texts are disjoint spans of it).
--   * heading: a paragraph of the chunk's layout (chunk_paragraphs) that reads as a title or as a
--     one-sentence headline: 15-250 characters, starts upper-case, mostly letters, one sentence, ends
--     in . ? ! or (titles, at most 15 words) in no punctuation; and is directly followed by a
--     paragraph of >= var filing_heading_min_passage_chars that reads as prose, not a table.
--     10-K risk factors are written this way: a one-sentence risk headline, then its explanation.
--   * generic headings ("ITEM 7. Management's Discussion...", "Liquidity and Capital Resources") are
--     skipped: a normalised heading used by more than var filing_heading_max_companies companies
--     teaches nothing; and a heading repeated (a company's 10-Ks of several years) pairs once, earliest.
--   * topic sentence: a chunk without any heading: its first sentence (40-300 characters, >= 6 words,
--     starting upper-case: a chunk cut mid-sentence has no topic sentence)
--     -> the rest of the chunk when that is >= var filing_heading_min_passage_chars and reads as prose.
with chunks as (

    select *
    from {{ ref('int_chunks_curated') }}
    where chunk_kind = 'filing'

),

paragraph_numbers as (

    select
        chunk_id,
        chunk_paragraphs,
        unnest(generate_series(1, len(chunk_paragraphs) - 1)) as paragraph_no
    from chunks
    where len(chunk_paragraphs) >= 2

),

paragraphs as (

    select
        chunk_id,
        paragraph_no,
        chunk_paragraphs[paragraph_no] as paragraph_text,
        chunk_paragraphs[paragraph_no + 1] as next_paragraph_text
    from paragraph_numbers

),

headings as (

    select
        paragraphs.chunk_id,
        paragraphs.paragraph_no,
        paragraphs.paragraph_text as heading,
        paragraphs.next_paragraph_text as passage,
        chunks.ticker,
        chunks.knowledge_ts,
        trim(regexp_replace(lower(paragraphs.paragraph_text), '[^a-z0-9]+', ' ', 'g')) as heading_key
    from paragraphs
    inner join chunks on paragraphs.chunk_id = chunks.chunk_id
    where
        length(paragraphs.paragraph_text) between 15 and 250
        and regexp_matches(paragraphs.paragraph_text, '^[A-Z]')
        and not regexp_matches(paragraphs.paragraph_text, '[.!?]\s+[A-Z]')
        and (
            regexp_matches(paragraphs.paragraph_text, '[.?!]$')
            or (
                regexp_matches(paragraphs.paragraph_text, '[A-Za-z)]$')
                and len(string_split(paragraphs.paragraph_text, ' ')) <= 15
            )
        )
        and {{ prose_share('paragraphs.paragraph_text') }} >= 0.8
        and length(paragraphs.next_paragraph_text) >= {{ number_var('filing_heading_min_passage_chars') }}
        and {{ prose_share('paragraphs.next_paragraph_text') }} >= 0.7

),

heading_spread as (

    select
        heading_key,
        count(distinct ticker) as n_companies
    from headings
    group by heading_key

),

distinct_headings as (

    -- a repeated heading pairs once: its earliest occurrence
    select headings.*
    from headings
    inner join heading_spread on headings.heading_key = heading_spread.heading_key
    where heading_spread.n_companies <= {{ number_var('filing_heading_max_companies') }}
    qualify row_number() over (
            partition by headings.heading_key order by headings.knowledge_ts, headings.chunk_id, headings.paragraph_no
        ) = 1

),

heading_pairs as (

    -- a chunk contributes its first remaining heading only
    select
        chunk_id,
        heading as anchor_text,
        passage as positive_text
    from distinct_headings
    qualify row_number() over (partition by chunk_id order by paragraph_no) = 1

),

-- a chunk with headings pairs through them or not at all (a skipped generic or repeated heading must
-- not come back as a "topic sentence")
chunks_with_headings as (

    select distinct chunk_id from headings

),

topic_sentences as (

    select
        chunks.chunk_id,
        regexp_extract(chunks.chunk_text, '^([A-Z].{39,299}?[.!?])\s+[A-Z]', 1) as topic_sentence,
        chunks.chunk_text
    from chunks
    left join chunks_with_headings on chunks.chunk_id = chunks_with_headings.chunk_id
    where chunks_with_headings.chunk_id is null

),

topic_pairs as (

    select
        chunk_id,
        topic_sentence as anchor_text,
        trim(substr(chunk_text, length(topic_sentence) + 1)) as positive_text
    from topic_sentences
    where
        topic_sentence <> ''
        and len(string_split(topic_sentence, ' ')) >= 6
        and length(chunk_text) - length(topic_sentence) >= {{ number_var('filing_heading_min_passage_chars') }}
        and {{ prose_share('chunk_text') }} >= 0.7

),

spans as (

    select * from heading_pairs
    union all
    select * from topic_pairs

),

pairs as (

    select
        chunks.chunk_id as anchor_chunk_id,
        chunks.doc_id as anchor_doc_id,
        spans.anchor_text,
        chunks.knowledge_ts as anchor_knowledge_ts,
        chunks.chunk_id as positive_chunk_id,
        chunks.doc_id as positive_doc_id,
        spans.positive_text,
        chunks.knowledge_ts as positive_knowledge_ts,
        chunks.ticker,
        chunks.fiscal_period
    from spans
    inner join chunks on spans.chunk_id = chunks.chunk_id

)

{{ select_pair_contract('filing_headings', 'pairs') }}
