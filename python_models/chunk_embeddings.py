"""Embeddings of every curated chunk from the current tuned model, written back to Iceberg.

Only chunks this run has not embedded yet are encoded and appended to
`embeddings.chunk_embeddings` in one commit; this table mirrors the Iceberg table.
"""

from vectorfin.config import Settings
from vectorfin.ml.runs import current_run, embed, embeddings_table_sql


def model(dbt, session):
    dbt.config(materialized="table")
    settings = Settings.from_env()
    chunks = dbt.ref("int_chunks_curated").df()[["chunk_id", "chunk_text"]]
    dimension = embed(current_run(dbt.ref("training_runs").df()), chunks, settings)
    return session.sql(embeddings_table_sql(settings, dimension))
