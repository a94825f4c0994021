{% macro validate_settings() %}
    {#- The on-run-start hook (dbt_project.yml): every var checked by src/vectorfin/config/validation.py
        before `dbt build`, `run` or `test` runs its first node. The plugin's DuckDB function
        vectorfin_validate_settings raises listing every problem, which fails the hook, and dbt then
        skips every node: no table is replaced. The var names come from the validator itself, and the
        --vars given are passed too, so a misspelt var is an error rather than silently ignored. -#}
    {%- if execute -%}
        {%- set names = run_query('select unnest(vectorfin_setting_names())').columns[0].values() -%}
        {%- set values = {} -%}
        {%- for name in names -%}
            {%- do values.update({name: var(name, none)}) -%}
        {%- endfor -%}
        select vectorfin_validate_settings(
            {{ sql_string(tojson(values)) }},
            {{ sql_string(tojson(invocation_args_dict.get('vars') or {})) }}
        ) as settings_check
    {%- endif -%}
{% endmacro %}
