"""Embedding on a Ray Data job: the curated chunks encoded by N workers and appended to
`embeddings.chunk_embeddings` through the project's catalog.

    python -m vectorfin embed-ray --workers 4 --gpus-per-worker 1      # the published run, a local cluster
    python -m vectorfin embed-ray --address auto --workers 16 ...      # an existing Ray cluster

The rows are the dbt model `chunk_embeddings`'s: the run it would publish (the current `training_runs`
run, only when `regression_check` passed it), keys `model_run_id:chunk_id`, the same schema and table
(`vectorfin.ml.embedding`). So after this job the dbt model finds every chunk done and encodes nothing.

Each worker is a Ray actor holding the model (on a GPU with `num_gpus` per actor when asked) and encodes
blocks of chunks with `vectorfin.ml.embedding.embed_chunks`, the in-process encoder's own code, on the
dbt model's encoder (var `embedding_backend`; torch when workers have GPUs; or `--embedding-backend`):
an ONNX export is made once, by the driver, in the model folder's `onnx/` (where the dbt model caches
it), before any worker loads it. Only the driver commits: every `commit_every` encoded chunks are one
Iceberg commit through `write_embeddings_to_iceberg` (`append_new_rows`, which checks the keys again on
the snapshot each commit lands on), so a killed job loses at most the chunks not committed yet, a rerun
encodes only what the run lacks, and two jobs at once store every row once.

A local cluster (no `address`) never touches the network: usage stats off, no dashboard, and Ray's
single-node mode, in which every Ray process listens on the loopback address only.
"""

from __future__ import annotations

import logging
import math
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.dataset as pa_dataset

from vectorfin.config.locations import StateLocations
from vectorfin.config.project_vars import project_var
from vectorfin.ml.backends import EMBEDDING_BACKENDS, ONNX_FOLDER, TORCH
from vectorfin.ml.embedding import chunks_to_embed, embedded_keys, write_embeddings_to_iceberg

logger = logging.getLogger(__name__)

CHUNK_COLUMNS = ["chunk_id", "chunk_text"]
CURATED_CHUNKS_TABLE = "int_chunks_curated"
# Chunks per Ray block: the unit a worker takes at a time. Small enough to spread a small corpus over
# every worker, large enough that scheduling a block costs little next to encoding it.
DEFAULT_BLOCK_ROWS = 256
DEFAULT_COMMIT_EVERY = 4096
DEFAULT_WORKERS = 2
DEFAULT_BATCH_SIZE = 64
DEFAULT_BACKEND: str = project_var("embedding_backend")  # the dbt model chunk_embeddings' encoder
# Set before Ray is imported: no usage report (it would try the network), and, for a local cluster,
# Ray's single-node mode (loopback addresses only; the variable is Ray's switch for laptop clusters).
RAY_OFFLINE_ENVIRONMENT = {"RAY_USAGE_STATS_ENABLED": "0"}
RAY_LOOPBACK_ENVIRONMENT = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}


class JobError(RuntimeError):
    """The job cannot start: no run to publish, no curated chunks, a setting out of range."""


@dataclass(frozen=True)
class RayEmbeddingReport:
    """What one job did."""

    run_id: str
    chunks: int  # curated chunks given
    to_embed: int  # of them, those the run had no embedding for
    written: int  # rows appended to the table
    commits: int
    workers_used: int  # distinct worker processes that encoded at least one block
    seconds: float

    def describe(self) -> str:
        rate = self.to_embed / self.seconds if self.seconds else 0.0
        return (
            f"run {self.run_id}: {self.to_embed} of {self.chunks} chunks encoded by {self.workers_used} "
            f"workers in {self.seconds:.1f} s ({rate:.1f} chunks/s); {self.written} rows written "
            f"in {self.commits} commits"
        )


@dataclass(frozen=True)
class RunToEmbed:
    run_id: str
    model_path: str


def published_run(settings: StateLocations) -> RunToEmbed:
    """The run `chunk_embeddings` would publish, read from the DuckDB file dbt built; an error saying why
    when it would publish none (regression_check failed or did not judge the current run)."""
    from vectorfin.ml.runs import current_run, publication  # the ML stack: only when the run is looked up

    with _read_only(settings) as connection:
        runs = connection.sql("select * from training_runs").df()
        checks = connection.sql("select * from regression_check").df()
    try:
        run = current_run(runs)
    except ValueError as error:
        raise JobError(str(error)) from error
    decision = publication(run, checks)
    if not decision.publish:
        raise JobError(f"nothing to publish: {decision.reason}")
    return RunToEmbed(str(run["run_id"]), str(run["artifact_path"]))


def curated_chunks(settings: StateLocations, chunks_path: Path | None = None) -> pa.Table:
    """chunk_id and chunk_text of every curated chunk: from a parquet export (a file or a folder of
    files) when given, else from the DuckDB file's `int_chunks_curated`. Ordered by chunk_id."""
    if chunks_path is not None:
        table = pa_dataset.dataset(chunks_path, format="parquet").to_table(columns=CHUNK_COLUMNS)
    else:
        with _read_only(settings) as connection:
            table = connection.sql(f"select {', '.join(CHUNK_COLUMNS)} from {CURATED_CHUNKS_TABLE}").arrow()
            table = table.read_all() if isinstance(table, pa.RecordBatchReader) else table
    return table.sort_by("chunk_id")


@contextmanager
def _read_only(settings: StateLocations) -> Iterator[duckdb.DuckDBPyConnection]:
    """The DuckDB file dbt built, read-only; a JobError naming it when it is missing or unreadable (a
    `dbt build` holding it open, say)."""
    if not settings.duckdb_path.is_file():
        raise JobError(f"{settings.duckdb_path} does not exist: run dbt build first")
    try:
        connection = duckdb.connect(str(settings.duckdb_path), read_only=True)
    except duckdb.Error as error:
        raise JobError(f"cannot read {settings.duckdb_path}: {error}") from error
    try:
        yield connection
    except duckdb.CatalogException as error:
        raise JobError(f"{settings.duckdb_path}: {error} (build the models first)") from error
    finally:
        connection.close()


class ChunkEncoder:
    """A Ray actor: loads the model once, then encodes one block of chunks per call."""

    def __init__(self, model_path: str, run_id: str, device: str, batch_size: int, backend: str) -> None:
        self.model = load_encoder(model_path, device, backend)
        self.run_id = run_id
        self.batch_size = batch_size
        self.worker = f"{socket.gethostname()}:{os.getpid()}"

    def __call__(self, block: pd.DataFrame) -> dict[str, np.ndarray]:
        from vectorfin.ml.embedding import embed_chunks

        rows = embed_chunks(self.model, block, self.run_id, batch_size=self.batch_size)
        return {
            "chunk_id": rows["chunk_id"].to_numpy(dtype=object),
            "embedding": np.stack(rows["embedding"].to_list()),
            "worker": np.full(len(rows), self.worker, dtype=object),
        }


@contextmanager
def ray_session(
    address: str | None = None,
    num_cpus: int | None = None,
    num_gpus: int | None = None,
    object_store_memory: int | None = None,
) -> Iterator[None]:
    """Ray started (a local cluster of `num_cpus` CPUs when `address` is None) and shut down after.

    A session already started in this process is used as it is and left running.
    """
    os.environ.update(RAY_OFFLINE_ENVIRONMENT)
    if address is None:
        os.environ.update(RAY_LOOPBACK_ENVIRONMENT)
    import ray

    if ray.is_initialized():
        yield
        return
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
    if address is None:
        options.update(num_cpus=num_cpus, num_gpus=num_gpus, object_store_memory=object_store_memory)
    ray.init(address=address, **options)
    try:
        yield
    finally:
        ray.shutdown()


def load_encoder(model_path: str, device: str, backend: str) -> Any:
    """The model at `model_path` encoding with `backend` (an ONNX export cached in its `onnx/` folder,
    made when missing)."""
    from sentence_transformers import SentenceTransformer

    from vectorfin.ml.encoders import use_backend

    model = SentenceTransformer(model_path, device=device, local_files_only=True)
    return use_backend(model, backend, Path(model_path) / ONNX_FOLDER)


def embed_with_ray(
    chunks: pa.Table,
    model_path: str,
    run_id: str,
    settings: StateLocations,
    workers: int = DEFAULT_WORKERS,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    batch_size: int = DEFAULT_BATCH_SIZE,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    commit_every: int = DEFAULT_COMMIT_EVERY,
    backend: str | None = None,
) -> RayEmbeddingReport:
    """Encode the chunks run `run_id` has no embedding for on `workers` Ray actors with `backend` (None:
    `worker_backend`) and append them, one Iceberg commit per `commit_every` chunks. Needs a Ray session
    (see `ray_session`)."""
    import ray.data

    _check_at_least(
        1, workers=workers, batch_size=batch_size, block_rows=block_rows, commit_every=commit_every
    )
    _check_at_least(0, gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker)
    backend = backend or worker_backend(gpus_per_worker)
    _check_backend(backend, gpus_per_worker)
    started = time.perf_counter()
    frame = chunks.select(CHUNK_COLUMNS).to_pandas()
    missing = chunks_to_embed(frame, embedded_keys(run_id, settings), run_id)
    logger.info("%d of %d chunks need embeddings from run %s", len(missing), len(frame), run_id)
    written = commits = 0
    workers_seen: set[str] = set()
    if not missing.empty:
        if backend != TORCH:
            load_encoder(model_path, "cpu", backend)  # the export, once, before the workers read it
        source = pa.Table.from_pandas(missing.reset_index(drop=True), preserve_index=False)
        blocks = [source.slice(offset, block_rows) for offset in range(0, source.num_rows, block_rows)]
        encoded = ray.data.from_arrow(blocks).map_batches(
            ChunkEncoder,
            fn_constructor_kwargs={
                "model_path": model_path,
                "run_id": run_id,
                "device": "cuda" if gpus_per_worker > 0 else "cpu",
                "batch_size": batch_size,
                "backend": backend,
            },
            batch_size=None,  # a whole block per call
            batch_format="pandas",
            concurrency=workers,
            num_cpus=cpus_per_worker,
            num_gpus=gpus_per_worker,
        )
        for batch in encoded.iter_batches(batch_size=commit_every, batch_format="numpy"):
            rows = pd.DataFrame(
                {
                    "chunk_id": batch["chunk_id"].tolist(),
                    "model_run_id": run_id,
                    "embedding": list(batch["embedding"].astype(np.float32, copy=False)),
                }
            )
            written += write_embeddings_to_iceberg(rows, settings)
            commits += 1
            workers_seen.update(batch["worker"].tolist())
    report = RayEmbeddingReport(
        run_id=run_id,
        chunks=len(frame),
        to_embed=len(missing),
        written=written,
        commits=commits,
        workers_used=len(workers_seen),
        seconds=round(time.perf_counter() - started, 3),
    )
    logger.info("%s", report.describe())
    return report


def run_job(
    settings: StateLocations,
    address: str | None = None,
    chunks_path: Path | None = None,
    run: RunToEmbed | None = None,
    workers: int = DEFAULT_WORKERS,
    gpus_per_worker: float = 0.0,
    cpus_per_worker: float = 1.0,
    **options: Any,
) -> RayEmbeddingReport:
    """The whole job (`python -m vectorfin embed-ray`): the published run (or `run`), the curated chunks,
    a Ray session (a local cluster sized for the workers when `address` is None), `embed_with_ray`."""
    _check_at_least(1, workers=workers)
    _check_at_least(0, gpus_per_worker=gpus_per_worker, cpus_per_worker=cpus_per_worker)
    _check_backend(options.get("backend") or worker_backend(gpus_per_worker), gpus_per_worker)
    run = run or published_run(settings)
    if not Path(run.model_path).is_dir():
        raise JobError(f"model folder {run.model_path} of run {run.run_id} does not exist")
    chunks = curated_chunks(settings, chunks_path)
    if chunks.num_rows == 0:
        raise JobError("there are no curated chunks to embed")
    local = address is None
    with ray_session(
        address,
        num_cpus=math.ceil(workers * cpus_per_worker) if local else None,
        num_gpus=math.ceil(workers * gpus_per_worker) if local else None,
    ):
        return embed_with_ray(
            chunks,
            run.model_path,
            run.run_id,
            settings,
            workers=workers,
            gpus_per_worker=gpus_per_worker,
            cpus_per_worker=cpus_per_worker,
            **options,
        )


def worker_backend(gpus_per_worker: float) -> str:
    """The encoder when none is given: the dbt model's (var embedding_backend) on CPU workers, the
    model's own PyTorch weights on GPU workers (ONNX Runtime runs on the CPU)."""
    return TORCH if gpus_per_worker > 0 else DEFAULT_BACKEND


def _check_backend(backend: str, gpus_per_worker: float) -> None:
    if backend not in EMBEDDING_BACKENDS:
        raise JobError(f"embedding backend must be one of {', '.join(EMBEDDING_BACKENDS)}, got {backend!r}")
    if backend != TORCH and gpus_per_worker > 0:
        raise JobError(
            f"embedding backend {backend} runs on the CPU (ONNX Runtime): with GPUs per worker, use {TORCH}"
        )


def _check_at_least(minimum: float, **values: float) -> None:
    wrong = [
        f"{name} must be at least {minimum}, got {value}" for name, value in values.items() if value < minimum
    ]
    if wrong:
        raise JobError("; ".join(wrong))
