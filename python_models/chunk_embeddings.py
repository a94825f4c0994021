"""Embeddings of every curated chunk by the published run, written back to Iceberg.

The current run is published only when regression_check passed for it: then the chunks it has not
embedded yet are encoded (var embedding_backend) and appended to `embeddings.chunk_embeddings`, one
commit per embedding_commit_every chunks (a killed build resumes), and this table mirrors that run's
vectors. Otherwise Iceberg is left untouched and this table keeps the run it held.
"""

from vectorfin.config.locations import StateLocations
from vectorfin.ml.runs import (
    current_run,
    embed,
    embeddings_table_sql,
    existing_table,
    kept_embeddings_sql,
    publication,
)


def model(dbt, session):
    dbt.config(materialized="table")
    run = current_run(dbt.ref("training_runs").df())
    decision = publication(run, dbt.ref("regression_check").df())
    if not decision.publish:
        return session.sql(
            kept_embeddings_sql(decision, existing_table(session, dbt.this.schema, dbt.this.identifier))
        )
    settings = StateLocations.from_env()
    chunks = dbt.ref("int_chunks_curated").project("chunk_id, chunk_text").df()
    dimension = embed(
        run,
        chunks,
        settings,
        backend=dbt.config.get("embedding_backend"),
        commit_every=int(dbt.config.get("commit_every")),
    )
    return session.sql(embeddings_table_sql(settings, dimension, run["run_id"]))
