-- Strategy summary_bullets: an ECTSum summary bullet -> the one transcript passage of the same call
-- that supports it best.
-- A careless version (the three sentences around the sentence sharing most figures) cut retrieval
-- quality by a quarter, so this one is strict:
--   * the positive is a whole curated chunk of the same call (doc_id), never a stitched window;
--   * it must repeat >= var summary_bullet_min_shared_figures of the bullet's figures and at least
--     var summary_bullet_min_figure_share of them, and share >= var summary_bullet_min_shared_terms
--     content words (capitalised entities of the passage count among them);
--   * of the passages that qualify, only the best one is kept: most shared figures, then most shared
--     entities, then most shared words, then the shortest chunk (ties by chunk_id);
--   * the positive text starts one sentence before the first sentence stating a shared figure: a figure
--     deep in a long chunk would otherwise lie past the model's window, and the pair would teach a
--     match with text that never mentions it (the positive is still a span of one whole chunk); var
--     summary_bullet_span_from_figure false keeps the whole chunk instead.
-- Its weight var can still turn it down (pair_strategies.summary_bullets.weight) or off.
with bullets as (

    select *
    from {{ ref('int_chunks_curated') }}
    where chunk_kind = 'transcript' and section = 'summary_bullet'

),

passages as (

    select *
    from {{ ref('int_chunks_curated') }}
    where chunk_kind = 'transcript' and section <> 'summary_bullet'

),

figures as (

    select
        chunk_id,
        doc_id,
        figure
    from {{ ref('int_chunk_figures') }}
    where chunk_kind = 'transcript'

),

bullet_figures as (

    select
        figures.chunk_id,
        count(*) as n_figures
    from figures
    inner join bullets on figures.chunk_id = bullets.chunk_id
    group by figures.chunk_id

),

shared_figures as (

    select
        bullet_figure.chunk_id as bullet_chunk_id,
        passage_figure.chunk_id as passage_chunk_id,
        count(*) as n_shared_figures
    from figures as bullet_figure
    inner join bullets on bullet_figure.chunk_id = bullets.chunk_id
    inner join figures as passage_figure
        on bullet_figure.doc_id = passage_figure.doc_id
            and bullet_figure.figure = passage_figure.figure
            and bullet_figure.chunk_id <> passage_figure.chunk_id
    inner join passages on passage_figure.chunk_id = passages.chunk_id
    group by bullet_figure.chunk_id, passage_figure.chunk_id

),

scored as (

    select
        bullets.chunk_id as bullet_chunk_id,
        passages.chunk_id as passage_chunk_id,
        shared_figures.n_shared_figures,
        shared_figures.n_shared_figures / bullet_figures.n_figures as figure_share,
        len(
            list_intersect(
                {{ split_words('bullets.chunk_text') }},
                {{ capitalised_entities('passages.chunk_text') }}
            )
        ) as n_shared_entities,
        len(
            list_filter(
                list_intersect({{ split_words('bullets.chunk_text') }}, {{ split_words('passages.chunk_text') }}),
                word -> {{ is_content_word('word', 3) }} and not regexp_full_match(word, '\d+')
            )
        ) as n_shared_terms,
        passages.text_length
    from shared_figures
    inner join bullets on shared_figures.bullet_chunk_id = bullets.chunk_id
    inner join bullet_figures on shared_figures.bullet_chunk_id = bullet_figures.chunk_id
    inner join passages on shared_figures.passage_chunk_id = passages.chunk_id

),

best as (

    select *
    from scored
    where
        n_shared_figures >= {{ number_var('summary_bullet_min_shared_figures') }}
        and figure_share >= {{ number_var('summary_bullet_min_figure_share') }}
        and n_shared_terms >= {{ number_var('summary_bullet_min_shared_terms') }}
    qualify row_number() over (
            partition by bullet_chunk_id
            order by
                n_shared_figures desc,
                n_shared_entities desc,
                n_shared_terms desc,
                text_length asc,
                passage_chunk_id asc
        ) = 1

),

bullet_figure_lists as (

    select
        figures.chunk_id,
        list(figures.figure) as bullet_figures
    from figures
    inner join best on figures.chunk_id = best.bullet_chunk_id
    group by figures.chunk_id

),

best_sentences as (

    select
        best.bullet_chunk_id,
        best.passage_chunk_id,
        {{ sentences('passages.chunk_text') }} as passage_sentences,
        bullet_figure_lists.bullet_figures
    from best
    inner join passages on best.passage_chunk_id = passages.chunk_id
    inner join bullet_figure_lists on best.bullet_chunk_id = bullet_figure_lists.chunk_id

),

positive_spans as (

    select
        bullet_chunk_id,
        passage_chunk_id,
        array_to_string(
            passage_sentences[
                greatest(
                    1,
                    coalesce(
                        list_position(
                            list_transform(
                                passage_sentences,
                                sentence -> len(list_intersect({{ extract_figures('sentence') }}, bullet_figures)) > 0
                            ),
                            true
                        ),
                        1
                    ) - 1
                ):
            ],
            ' '
        ) as positive_text
    from best_sentences

),

pairs as (

    select
        {{ chunk_pair_columns(
            'bullets', 'passages',
            positive_text='positive_spans.positive_text' if var('summary_bullet_span_from_figure') else none
        ) }}
    from positive_spans
    inner join bullets on positive_spans.bullet_chunk_id = bullets.chunk_id
    inner join passages on positive_spans.passage_chunk_id = passages.chunk_id

)

{{ select_pair_contract('summary_bullets', 'pairs') }}
