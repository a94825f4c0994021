{#- Incremental curation: a new day's chunks are cleaned, tokenised and signed once, not all history again.

    A raw chunk's version is (chunk_id, ingested_at): the loader keys a chunk by a hash of its source,
    document, text and occurrence, keeps the first ingested_at of a row that did not change, and gives a
    changed row (a document replaced with a corrected date or ticker) a new one. So an incremental run
    of a per-chunk model takes the versions it does not hold yet (new and changed chunks) and replaces
    them by chunk_id (delete+insert), and a post-hook deletes the chunks its input no longer holds (a
    replaced document's removed chunks, a curated chunk that became a duplicate). Rules that compare a
    chunk with all others (duplicates, ranks) stay full tables: int_chunk_quality_flags.

    Anything else a model's rows depend on - its SQL, a seed (company_tickers), a var (minhash_min_tokens)
    - is not in the version: after changing one, rebuild with `dbt build --full-refresh` (docs/scaling.md). -#}

{% macro chunk_increment_config() -%}
    {#- The config of a per-chunk incremental model. A changed column list stops the run (rather than
        being ignored on the rows already built): rebuild with --full-refresh. -#}
    {{ return({
        'materialized': 'incremental',
        'incremental_strategy': 'delete+insert',
        'unique_key': 'chunk_id',
        'on_schema_change': 'fail'
    }) }}
{%- endmacro %}


{% macro unseen_chunk_versions(row_alias, with_ingested_at=true) -%}
    {#- A filter (`and ...` continues it, so start the where with it) keeping the rows of `row_alias`
        whose chunk version this model does not hold: every row on a full build. Without ingested_at: by
        chunk_id alone, for models of a chunk's text only (the text is part of the chunk_id). -#}
    {%- if is_incremental() -%}
        not exists (
            select 1
            from {{ this }} as built
            where
                built.chunk_id = {{ row_alias }}.chunk_id
                {%- if with_ingested_at %}
                    and built.ingested_at = {{ row_alias }}.ingested_at
                {%- endif %}
        )
    {%- else -%}
        true
    {%- endif -%}
{%- endmacro %}


{% macro delete_chunks_not_in(relations, condition='true') -%}
    {#- Post-hook of a per-chunk incremental model: delete the chunks none of `relations` holds (where
        `condition` holds for the row there). A no-op on a full build. -#}
    delete from {{ this }} as built
    where
        {%- for relation in relations %}
            not exists (
                select 1 from {{ relation }} as kept
                where kept.chunk_id = built.chunk_id and ({{ condition }})
            )
            {%- if not loop.last %} and{% endif %}
        {%- endfor %}
{%- endmacro %}
