"""The full-text index keyword search serves, its term rules written once: DuckDB's fts extension over
`search_chunks`, built by the model's post-hook from `create_index_sql` (through the DuckDB function
`vectorfin_keyword_index_sql`), and built the same way over the evaluation sets by
benchmarks/keyword_search_parity.py, which measures how far its ranking is from the evaluation's BM25
(`vectorfin.bm25`, another tokenizer: docs/search.md says how they differ).

Terms: lower case, accents stripped, Porter stems, English stop words; anything but letters, digits and
periods separates terms, and so does a period at either end of the text or next to anything but a letter
or digit. A period inside a term stays, so figures (4.2, 1.3) and abbreviations (u.s) are one term each:
the keyword side exists for exact figures. `match_bm25` splits the query the same way.
"""

from __future__ import annotations

from duckdb import DuckDBPyConnection

from vectorfin.duck import sql_string

SQL_FUNCTION = "vectorfin_keyword_index_sql"
STEMMER = "porter"
STOPWORDS = "english"
# What separates terms (fts's `ignore`, matched after lower-casing)
IGNORE = r"\.[^a-z0-9]|[^a-z0-9]\.|^\.|\.$|[^a-z0-9.]+"


def create_index_sql(table: str, id_column: str, text_column: str) -> str:
    """`pragma create_fts_index` over `table` (schema.name), replacing any index it had."""
    return (
        f"pragma create_fts_index({sql_string(table)}, {sql_string(id_column)}, {sql_string(text_column)}, "
        f"stemmer = {sql_string(STEMMER)}, stopwords = {sql_string(STOPWORDS)}, "
        f"ignore = {sql_string(IGNORE)}, strip_accents = 1, lower = 1, overwrite = 1)"
    )


def register_keyword_index_function(connection: DuckDBPyConnection) -> None:
    connection.create_function(
        SQL_FUNCTION, create_index_sql, ["VARCHAR", "VARCHAR", "VARCHAR"], "VARCHAR", side_effects=False
    )
