{% macro require_registered_models(kind, prefix, names, var_name, folder=none) -%}
    {#- For a union over a registry var (pair strategies, negative rules): dbt needs each ref() at parse
        time and a dbt project cannot list a folder, so the var names the models. This checks the other
        direction when a union runs: every model named <prefix><name> (and, given `folder`, every model
        in that folder) must have its <name> in `names`, else the build fails rather than leaving the
        model out silently. A unit test compiles without the project's graph: nothing to check there. -#}
    {%- if not execute -%}
        {{ return('') }}
    {%- endif -%}
    {%- for node in (graph.get('nodes') or {}).values()
        if node.resource_type == 'model' and (node.name.startswith(prefix) or (folder and folder in node.fqn)) -%}
        {%- if not node.name.startswith(prefix) or node.name[prefix | length:] not in names -%}
            {{ exceptions.raise_compiler_error(
                kind ~ " model " ~ node.name ~ " is not registered: name it " ~ prefix ~ "<name> and add <name> "
                ~ "to var('" ~ var_name ~ "') in dbt_project.yml"
            ) }}
        {%- endif -%}
    {%- endfor -%}
{%- endmacro %}
