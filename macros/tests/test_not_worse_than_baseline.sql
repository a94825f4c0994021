{% test not_worse_than_baseline(model, candidate, baseline, eval_set, metric, max_regression) %}
{#- Fails when `candidate` scores more than `max_regression` below `baseline` on `eval_set`'s `metric`,
    or when either score is missing (a model that was not evaluated must not pass silently). -#}
with scores as (

    select
        max(case when model = '{{ candidate }}' then value end) as candidate_score,
        max(case when model = '{{ baseline }}' then value end) as baseline_score
    from {{ model }}
    where eval_set = '{{ eval_set }}' and metric = '{{ metric }}'

)

select *
from scores
where
    candidate_score is null
    or baseline_score is null
    or candidate_score < baseline_score - {{ max_regression }}

{% endtest %}
