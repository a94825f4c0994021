"""Every training run that passed the checks guarding publication, and since when: the rule
chunk_embeddings publishes by (vectorfin.ml.run_lookup.publication), read from regression_check, so a
build that leaves embedding out (`--exclude chunk_embeddings+`) records its run too. Kept across builds
(incremental): run_comparison sets the latest run beside the one published before it."""

from datetime import UTC, datetime

import pandas as pd

from vectorfin.ml.run_lookup import current_run, publication


def model(dbt, session):
    dbt.config(materialized="incremental", unique_key="run_id")
    run = current_run(dbt.ref("training_runs").df())
    decision = publication(run, dbt.ref("regression_check").df())
    recorded = (
        dbt.is_incremental
        and session.execute(f"select count(*) from {dbt.this} where run_id = ?", [run["run_id"]]).fetchone()[
            0
        ]
    )
    published = decision.publish and not recorded  # a run keeps the time it was first published
    return pd.DataFrame(
        {
            "run_id": pd.Series([run["run_id"]] if published else [], dtype="string"),
            "first_published_at": pd.Series(
                [datetime.now(UTC)] if published else [], dtype="datetime64[us, UTC]"
            ),
        }
    )
