"""The Ray Data embedding job on a local Ray cluster of 2 workers, on the demo corpus's curated chunks.

Real dbt (the demo build), real Ray (2 CPU actors, loopback only), the real model and pyiceberg: the job
writes one row per curated chunk with the vectors the in-process encoder gives on the same encoder (the
dbt model's default, ONNX int8 on CPUs), under the keys the dbt model chunk_embeddings reads back (so it
finds nothing left to do), and a rerun writes nothing.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from demo_builds import DemoBuild, build_demo

from vectorfin.config.locations import StateLocations
from vectorfin.ml.backends import ONNX_FILES, ONNX_FOLDER
from vectorfin.ml.embedding import embed_chunks, embed_missing_chunks, ensure_embeddings_table
from vectorfin.ml.model_folders import linked_base_model
from vectorfin.scale.ray_embedding import (
    DEFAULT_BACKEND,
    JobError,
    RunToEmbed,
    curated_chunks,
    load_encoder,
    published_run,
    ray_session,
    run_job,
)

RUN_ID = "ray-test-run"
BLOCK_ROWS = 8  # the demo's ~80 curated chunks in ~10 blocks: both workers get some
COMMIT_EVERY = 32


@pytest.fixture(scope="module")
def demo_build(tmp_path_factory: pytest.TempPathFactory) -> DemoBuild:
    built = build_demo(tmp_path_factory.mktemp("ray_demo"))
    assert built.result.ok, built.result.summary()
    return built


@pytest.fixture
def demo_settings(demo_build: DemoBuild, monkeypatch: pytest.MonkeyPatch) -> StateLocations:
    for name in ("VECTORFIN_WAREHOUSE", "VECTORFIN_DUCKDB_PATH", "VECTORFIN_ARTIFACTS"):
        monkeypatch.setenv(name, demo_build.workspace.env[name])
    monkeypatch.delenv("VECTORFIN_CATALOG_URI", raising=False)
    return StateLocations.from_env()


def _stored_vectors(settings: StateLocations) -> pd.DataFrame:
    table = ensure_embeddings_table(settings)
    rows = table.scan().to_pandas()
    return rows[rows["model_run_id"] == RUN_ID].sort_values("chunk_id").reset_index(drop=True)


@pytest.mark.slow
def test_two_ray_workers_embed_every_curated_chunk_once_like_the_in_process_encoder(demo_settings, tmp_path):
    base_model = str(linked_base_model(tmp_path / "model"))  # the job caches its ONNX export there
    chunks = curated_chunks(demo_settings)
    assert chunks.num_rows > 2 * BLOCK_ROWS

    with ray_session(num_cpus=2):  # one local cluster for both jobs (run_job uses a running session)
        first = run_job(
            demo_settings,
            run=RunToEmbed(RUN_ID, base_model),
            workers=2,
            block_rows=BLOCK_ROWS,
            commit_every=COMMIT_EVERY,
        )
        snapshot = ensure_embeddings_table(demo_settings).current_snapshot().snapshot_id
        again = run_job(demo_settings, run=RunToEmbed(RUN_ID, base_model), workers=2, block_rows=BLOCK_ROWS)

    assert (first.chunks, first.to_embed, first.written) == (chunks.num_rows,) * 3
    assert first.workers_used == 2
    assert first.commits == math.ceil(chunks.num_rows / COMMIT_EVERY)
    assert (again.to_embed, again.written, again.commits) == (0, 0, 0)
    assert ensure_embeddings_table(demo_settings).current_snapshot().snapshot_id == snapshot

    stored = _stored_vectors(demo_settings)
    assert stored["chunk_id"].tolist() == sorted(chunks.column("chunk_id").to_pylist())
    assert stored["embedding_key"].tolist() == [f"{RUN_ID}:{chunk}" for chunk in stored["chunk_id"]]

    # the driver exported the dbt model's encoder once, into the model folder, where chunk_embeddings looks
    assert (Path(base_model) / ONNX_FOLDER / ONNX_FILES[DEFAULT_BACKEND]).is_file()
    model = load_encoder(base_model, "cpu", DEFAULT_BACKEND)
    in_process = embed_chunks(model, chunks.to_pandas().sort_values("chunk_id"), RUN_ID)
    np.testing.assert_allclose(
        np.stack(stored["embedding"].to_list()), np.stack(in_process["embedding"].to_list()), atol=1e-5
    )
    # what the dbt model chunk_embeddings calls: it finds every chunk of the run done
    assert embed_missing_chunks(model, chunks.to_pandas(), RUN_ID, demo_settings) == 0


def test_a_build_without_a_trained_run_is_refused(demo_settings):
    with pytest.raises(JobError, match="training_runs"):
        run_job(demo_settings)


def test_only_the_run_the_regression_check_passed_is_published(demo_settings, tmp_path: Path):
    """published_run applies chunk_embeddings' own rule (vectorfin.ml.runs.publication)."""
    import duckdb

    copy = tmp_path / "vectorfin.duckdb"
    copy.write_bytes(demo_settings.duckdb_path.read_bytes())
    settings = replace(demo_settings, duckdb_path=copy)
    with duckdb.connect(str(copy)) as connection:
        connection.execute(
            "create table training_runs as select 'run-b' as run_id, ? as artifact_path, ? as built_at",
            [str(tmp_path), datetime.now(UTC).isoformat()],
        )
        connection.execute(
            "create table regression_check as select 'run-b' as model_run_id, 'retrieval' as check_name, "
            "false as passed, 'tuned ndcg@10 0.30 below base 0.35' as reason"
        )
    with pytest.raises(
        JobError, match=re.escape("nothing to publish: run run-b: retrieval: tuned ndcg@10 0.30")
    ):
        published_run(settings)
    with duckdb.connect(str(copy)) as connection:
        connection.execute("update regression_check set passed = true")
    assert published_run(settings) == RunToEmbed("run-b", str(tmp_path))


def test_settings_out_of_range_are_refused_before_ray_starts(demo_settings):
    with pytest.raises(JobError, match="workers must be at least 1, got 0"):
        run_job(demo_settings, run=RunToEmbed(RUN_ID, "."), workers=0)
    with pytest.raises(JobError, match="gpus_per_worker must be at least 0, got -1"):
        run_job(demo_settings, run=RunToEmbed(RUN_ID, "."), gpus_per_worker=-1)
    with pytest.raises(JobError, match="does not exist"):
        run_job(demo_settings, run=RunToEmbed(RUN_ID, "/nonexistent/model"))
    with pytest.raises(JobError, match="embedding backend must be one of torch, onnx, onnx_int8, got 'tf'"):
        run_job(demo_settings, run=RunToEmbed(RUN_ID, "."), backend="tf")
    with pytest.raises(JobError, match="onnx_int8 runs on the CPU"):
        run_job(demo_settings, run=RunToEmbed(RUN_ID, "."), gpus_per_worker=1, backend="onnx_int8")


def test_chunks_from_a_parquet_export_are_the_duckdb_table(demo_settings, tmp_path: Path):
    import duckdb

    export = tmp_path / "curated.parquet"
    with duckdb.connect(str(demo_settings.duckdb_path), read_only=True) as connection:
        connection.execute(f"copy int_chunks_curated to '{export}' (format parquet)")
    assert curated_chunks(demo_settings, export).equals(curated_chunks(demo_settings))
