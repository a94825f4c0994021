"""Chunk embeddings: encode with a model, store in `embeddings.chunk_embeddings`, incrementally.

The chunks a run lacks are encoded and appended in batches of `commit_every` chunks, each batch one
Iceberg commit: a failure or a kill while encoding loses at most the batch in progress (the table holds
whole batches only), and the next run resumes where it stopped. Rows are keyed by
`embedding_key = model_run_id:chunk_id`, which the rerun reads back (`embedded_keys`) and
`append_new_rows` checks again at each commit: nothing is embedded or stored twice.
"""

from __future__ import annotations

import logging
from collections.abc import Collection
from datetime import UTC, datetime

import pandas as pd
import pyarrow as pa
from pyiceberg.expressions import EqualTo
from pyiceberg.partitioning import PartitionField, PartitionSpec
from pyiceberg.schema import Schema
from pyiceberg.table import Table
from pyiceberg.transforms import IdentityTransform
from pyiceberg.types import FloatType, ListType, NestedField, StringType, TimestamptzType
from sentence_transformers import SentenceTransformer

from vectorfin.config.locations import StateLocations
from vectorfin.config.project_vars import project_var
from vectorfin.iceberg import append_new_rows, ensure_table, get_catalog
from vectorfin.ml.encoders import backend_of, encode_by_length
from vectorfin.ml.progress import ProgressLog

logger = logging.getLogger(__name__)

EMBEDDINGS_NAMESPACE = "embeddings"
CHUNK_EMBEDDINGS = "chunk_embeddings"
KEY_COLUMN = "embedding_key"
EMBEDDING_COLUMNS = ["chunk_id", "model_run_id", "embedding"]

# Iceberg has no fixed-size list: a list of required floats, all of the model's dimension.
CHUNK_EMBEDDINGS_SCHEMA = Schema(
    NestedField(1, KEY_COLUMN, StringType(), required=True),
    NestedField(2, "chunk_id", StringType(), required=True),
    NestedField(3, "model_run_id", StringType(), required=True),
    NestedField(4, "embedding", ListType(6, FloatType(), element_required=True), required=True),
    NestedField(5, "embedded_at", TimestamptzType(), required=True),
)
# One partition per model run: a run's vectors are read (and dropped) together.
CHUNK_EMBEDDINGS_PARTITION_SPEC = PartitionSpec(
    PartitionField(source_id=3, field_id=1000, transform=IdentityTransform(), name="model_run_id")
)


# Chunks encoded between two Iceberg commits (at most this much work is lost to a kill).
DEFAULT_COMMIT_EVERY: int = project_var("embedding_commit_every")


def embedding_key(model_run_id: str, chunk_id: str) -> str:
    return f"{model_run_id}:{chunk_id}"


def embed_chunks(
    model: SentenceTransformer,
    chunks_df: pd.DataFrame,
    model_run_id: str,
    batch_size: int = 64,
    progress: ProgressLog | None = None,
) -> pd.DataFrame:
    """One row per chunk: chunk_id, model_run_id and its unit-norm float32 embedding."""
    vectors = encode_by_length(
        model,
        chunks_df["chunk_text"].fillna("").tolist(),
        batch_size,
        on_batch=progress.advance if progress is not None else None,
    )
    return pd.DataFrame(
        {
            "chunk_id": chunks_df["chunk_id"].astype(str).tolist(),
            "model_run_id": model_run_id,
            "embedding": list(vectors),
        },
        columns=EMBEDDING_COLUMNS,
    )


def chunks_to_embed(
    all_chunks_df: pd.DataFrame, already_embedded_keys: Collection[str], run_id: str
) -> pd.DataFrame:
    """The chunks that have no embedding from `run_id` yet."""
    keys = all_chunks_df["chunk_id"].astype(str).map(lambda chunk_id: embedding_key(run_id, chunk_id))
    return all_chunks_df[~keys.isin(set(already_embedded_keys))]


def embedded_keys(model_run_id: str, settings: StateLocations | None = None) -> set[str]:
    """Keys already stored for one run (empty when the table does not exist yet)."""
    catalog = get_catalog(settings)
    identifier = f"{EMBEDDINGS_NAMESPACE}.{CHUNK_EMBEDDINGS}"
    if not catalog.table_exists(identifier):
        return set()
    scan = catalog.load_table(identifier).scan(
        row_filter=EqualTo("model_run_id", model_run_id), selected_fields=(KEY_COLUMN,)
    )
    return set(scan.to_arrow().column(KEY_COLUMN).to_pylist())


def ensure_embeddings_table(settings: StateLocations | None = None) -> Table:
    settings = settings or StateLocations.from_env()
    return ensure_table(
        get_catalog(settings),
        EMBEDDINGS_NAMESPACE,
        CHUNK_EMBEDDINGS,
        CHUNK_EMBEDDINGS_SCHEMA,
        settings,
        CHUNK_EMBEDDINGS_PARTITION_SPEC,
    )


def write_embeddings_to_iceberg(rows: pd.DataFrame, settings: StateLocations | None = None) -> int:
    """Append the rows (as from `embed_chunks`) not stored yet, in one commit; return how many."""
    table = ensure_embeddings_table(settings)
    written = append_new_rows(table, _as_arrow(rows), key=KEY_COLUMN)
    logger.info(
        "Wrote %d of %d embeddings to %s.%s", written, len(rows), EMBEDDINGS_NAMESPACE, CHUNK_EMBEDDINGS
    )
    return written


def embed_missing_chunks(
    model: SentenceTransformer,
    chunks_df: pd.DataFrame,
    model_run_id: str,
    settings: StateLocations | None = None,
    batch_size: int = 64,
    commit_every: int = DEFAULT_COMMIT_EVERY,
) -> int:
    """Embed only the chunks this run has not embedded yet and store them, `commit_every` chunks per
    Iceberg commit; return how many were stored. Logs the rate and the time left as it goes."""
    if commit_every < 1:
        raise ValueError(f"commit_every must be at least 1, got {commit_every}")
    missing = chunks_to_embed(chunks_df, embedded_keys(model_run_id, settings), model_run_id)
    logger.info(
        "%d of %d chunks need embeddings from run %s (encoder %s, %d chunks per commit)",
        len(missing),
        len(chunks_df),
        model_run_id,
        backend_of(model),
        commit_every,
    )
    progress = ProgressLog("embedding", len(missing), "chunks")
    written = 0
    for start in range(0, len(missing), commit_every):
        rows = embed_chunks(
            model, missing.iloc[start : start + commit_every], model_run_id, batch_size, progress
        )
        written += write_embeddings_to_iceberg(rows, settings)
    return written


def _as_arrow(rows: pd.DataFrame) -> pa.Table:
    keys = [
        embedding_key(run, chunk) for run, chunk in zip(rows["model_run_id"], rows["chunk_id"], strict=True)
    ]
    return pa.table(
        {
            KEY_COLUMN: pa.array(keys, pa.string()),
            "chunk_id": pa.array(rows["chunk_id"], pa.string()),
            "model_run_id": pa.array(rows["model_run_id"], pa.string()),
            "embedding": pa.array(list(rows["embedding"]), pa.list_(pa.float32())),
            "embedded_at": pa.array([datetime.now(UTC)] * len(rows), pa.timestamp("us", tz="UTC")),
        }
    )
