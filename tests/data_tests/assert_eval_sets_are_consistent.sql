-- Within each eval set, every judged query is a query and every judged document is in the corpus,
-- and every query has at least one relevant document.
with queries as (

    select
        eval_set,
        query_id
    from {{ ref('eval_queries') }}

),

corpus as (

    select
        eval_set,
        doc_id
    from {{ ref('eval_corpus') }}

),

qrels as (

    select
        eval_set,
        query_id,
        doc_id
    from {{ ref('eval_qrels') }}
    where relevance > 0

),

qrels_without_query as (

    select
        qrels.eval_set,
        qrels.query_id,
        qrels.doc_id,
        'judged query missing from eval_queries' as problem
    from qrels
    left join queries on qrels.eval_set = queries.eval_set and qrels.query_id = queries.query_id
    where queries.query_id is null

),

qrels_without_document as (

    select
        qrels.eval_set,
        qrels.query_id,
        qrels.doc_id,
        'judged document missing from eval_corpus' as problem
    from qrels
    left join corpus on qrels.eval_set = corpus.eval_set and qrels.doc_id = corpus.doc_id
    where corpus.doc_id is null

),

queries_without_relevant as (

    select
        queries.eval_set,
        queries.query_id,
        cast(null as varchar) as doc_id,
        'query without a relevant document' as problem
    from queries
    left join qrels on queries.eval_set = qrels.eval_set and queries.query_id = qrels.query_id
    where qrels.query_id is null

)

select * from qrels_without_query
union all
select * from qrels_without_document
union all
select * from queries_without_relevant
