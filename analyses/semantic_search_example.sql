-- Compile with `dbt compile --select semantic_search_example`, or edit the query and run the
-- compiled SQL in DuckDB; `dbt run-operation print_semantic_search --args '{query: "..."}'` prints hits.
{{ semantic_search('How did gross margin change and why?', k=10) }}
