{% macro chunk_pair_columns(anchor, positive, anchor_text=none, positive_text=none) -%}
    {#- The columns select_pair_contract needs, for a pair of two curated chunks: `anchor` and `positive`
        are relations (CTE aliases) with chunk_id, doc_id, chunk_text, knowledge_ts, ticker and
        fiscal_period. `anchor_text` / `positive_text` replace a side's text with a span of it (a SQL
        expression). The pair takes the anchor's company and period. -#}
    {{ anchor }}.chunk_id as anchor_chunk_id,
    {{ anchor }}.doc_id as anchor_doc_id,
    {{ anchor_text or anchor ~ '.chunk_text' }} as anchor_text,
    {{ anchor }}.knowledge_ts as anchor_knowledge_ts,
    {{ positive }}.chunk_id as positive_chunk_id,
    {{ positive }}.doc_id as positive_doc_id,
    {{ positive_text or positive ~ '.chunk_text' }} as positive_text,
    {{ positive }}.knowledge_ts as positive_knowledge_ts,
    {{ anchor }}.ticker,
    {{ anchor }}.fiscal_period
{%- endmacro %}


{% macro text_anchor_pair_columns(anchor_doc_id, anchor_text, anchor_knowledge_ts, positive) -%}
    {#- The columns select_pair_contract needs, for free text (a taxonomy description, a templated
        question: SQL expressions) -> a curated chunk `positive` (a relation as in chunk_pair_columns).
        The anchor has no chunk id; the pair takes the positive's company and period. -#}
    cast(null as varchar) as anchor_chunk_id,
    {{ anchor_doc_id }} as anchor_doc_id,
    {{ anchor_text }} as anchor_text,
    {{ anchor_knowledge_ts }} as anchor_knowledge_ts,
    {{ positive }}.chunk_id as positive_chunk_id,
    {{ positive }}.doc_id as positive_doc_id,
    {{ positive }}.chunk_text as positive_text,
    {{ positive }}.knowledge_ts as positive_knowledge_ts,
    {{ positive }}.ticker,
    {{ positive }}.fiscal_period
{%- endmacro %}
