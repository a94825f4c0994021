{% test not_worse_than_baseline(model, candidate, baseline, eval_set, metric, max_regression, allow_missing=false) %}
{#- Fails when `candidate` scores more than `max_regression` below `baseline` on `eval_set`'s `metric`,
    or when either score is missing (a model that was not evaluated must not pass silently), unless
    `allow_missing` (a set whose data may be absent, such as STS-B on a fresh clone). -#}
with scores as (

    select
        max(case when model = {{ sql_string(candidate) }} then value end) as candidate_score,
        max(case when model = {{ sql_string(baseline) }} then value end) as baseline_score
    from {{ model }}
    where eval_set = {{ sql_string(eval_set) }} and metric = {{ sql_string(metric) }}

)

select *
from scores
where
    {% if allow_missing %}(candidate_score is not null or baseline_score is not null) and ({% endif %}
    candidate_score is null
    or baseline_score is null
    or candidate_score < baseline_score - {{ max_regression | float }}
    {% if allow_missing %}){% endif %}

{% endtest %}
