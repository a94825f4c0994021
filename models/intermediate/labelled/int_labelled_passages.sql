-- Every passage of every labelled source, one row per passage, with its group's split: the seed's
-- passages, and all of TAT-QA's paragraphs and tables (those no question points at too: in evaluation
-- they compete with the answers). A group is held out for evaluation when
-- stable_fraction(source|group) < var labelled_eval_fraction, deterministic like the company split.
-- knowledge_ts: the seed gives one per row; TAT-QA's reports are dated only by their fiscal years, so
-- var tatqa_knowledge_ts, a conservative date after the latest of them, stands for all.
with seed_passages as (

    select distinct
        labelled_source,
        group_id,
        passage_id,
        {{ clean_text('passage_text') }} as passage_text,
        cast(knowledge_ts as timestamp) as knowledge_ts
    from {{ ref('labelled_pairs') }}

),

tatqa_passages as (

    select
        'tatqa_dev' as labelled_source,
        context_id as group_id,
        passage_id,
        passage_text,
        {{ sql_timestamp(var('tatqa_knowledge_ts')) }} as knowledge_ts
    from {{ ref('stg_external_files__tatqa_passages') }}

),

unioned as (

    select * from seed_passages
    union all
    select * from tatqa_passages

)

select
    {{ labelled_key('labelled_source', 'passage_id') }} as passage_key,
    labelled_source,
    group_id,
    passage_text,
    knowledge_ts,
    case
        when {{ stable_fraction("labelled_source || '|' || group_id", 'labelled_split') }}
            < {{ number_var('labelled_eval_fraction') }} then 'eval'
        else 'train'
    end as split
from unioned
where passage_text <> ''
