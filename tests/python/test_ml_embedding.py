import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer

from vectorfin import duck
from vectorfin.ml.config import TrainingConfig
from vectorfin.ml.embedding import (
    CHUNK_EMBEDDINGS,
    EMBEDDINGS_NAMESPACE,
    chunks_to_embed,
    embed_chunks,
    embed_missing_chunks,
    embedded_keys,
    embedding_key,
    ensure_embeddings_table,
    write_embeddings_to_iceberg,
)

CHUNKS = pd.DataFrame(
    {
        "chunk_id": ["c1", "c2", "c3"],
        "chunk_text": [
            "Revenue rose 8% to $4.1 billion.",
            "Gross margin narrowed on freight costs.",
            "We raised full-year EPS guidance.",
        ],
    }
)


@pytest.fixture(scope="module")
def model():
    return SentenceTransformer(TrainingConfig().resolved_base_model(), device="cpu", local_files_only=True)


# `settings` (conftest.py) points the warehouse and artifacts at the test's tmp_path.


def _read_back(settings):
    location = settings.table_location(EMBEDDINGS_NAMESPACE, CHUNK_EMBEDDINGS)
    return (
        duck.connect()
        .sql(
            "select chunk_id, model_run_id, embedding_key, len(embedding) as dim,"
            " list_dot_product(embedding, embedding) as squared_norm"
            f" from iceberg_scan('{location}') order by chunk_id"
        )
        .df()
    )


def test_chunks_to_embed_keeps_only_what_the_run_lacks():
    done = {embedding_key("run-1", "c1"), embedding_key("run-2", "c2")}
    assert chunks_to_embed(CHUNKS, done, "run-1")["chunk_id"].tolist() == ["c2", "c3"]
    assert chunks_to_embed(CHUNKS, set(), "run-1").equals(CHUNKS)


@pytest.mark.slow
def test_embeddings_are_unit_float32_vectors_of_one_dimension(model):
    rows = embed_chunks(model, CHUNKS, "base", batch_size=2)
    assert list(rows.columns) == ["chunk_id", "model_run_id", "embedding"]
    vectors = np.stack(rows["embedding"])
    assert vectors.dtype == np.float32
    assert vectors.shape == (3, 384)
    assert np.linalg.norm(vectors, axis=1) == pytest.approx([1.0, 1.0, 1.0], abs=1e-5)


@pytest.mark.slow
def test_written_embeddings_read_back_through_duckdb(model, settings):
    assert write_embeddings_to_iceberg(embed_chunks(model, CHUNKS, "base"), settings) == 3
    stored = _read_back(settings)
    assert stored["chunk_id"].tolist() == ["c1", "c2", "c3"]
    assert stored["embedding_key"].tolist() == ["base:c1", "base:c2", "base:c3"]
    assert set(stored["dim"]) == {384}
    assert stored["squared_norm"].tolist() == pytest.approx([1.0] * 3, abs=1e-5)


@pytest.mark.slow
def test_incremental_run_embeds_only_new_chunks_and_then_nothing(model, settings, monkeypatch):
    assert embed_missing_chunks(model, CHUNKS.iloc[:2], "base", settings) == 2
    assert embed_missing_chunks(model, CHUNKS, "base", settings) == 1
    assert embedded_keys("base", settings) == {"base:c1", "base:c2", "base:c3"}

    def no_encoding(*args, **kwargs):
        raise AssertionError("nothing is left to encode")

    monkeypatch.setattr(model, "encode", no_encoding)
    assert embed_missing_chunks(model, CHUNKS, "base", settings) == 0
    monkeypatch.undo()
    assert embed_missing_chunks(model, CHUNKS, "tuned-run", settings) == 3  # keys are per run
    assert len(_read_back(settings)) == 6


@pytest.mark.slow
def test_failure_while_encoding_leaves_the_table_unchanged(model, settings, monkeypatch):
    embed_missing_chunks(model, CHUNKS.iloc[:1], "base", settings)
    snapshot_before = ensure_embeddings_table(settings).current_snapshot().snapshot_id
    real_encode = model.encode

    def encode_then_fail(sentences, **kwargs):
        real_encode(sentences[:1], **kwargs)  # some batches done, then the device fails
        raise RuntimeError("CUDA out of memory")

    monkeypatch.setattr(model, "encode", encode_then_fail)
    with pytest.raises(RuntimeError, match="out of memory"):
        embed_missing_chunks(model, CHUNKS, "base", settings)
    assert ensure_embeddings_table(settings).current_snapshot().snapshot_id == snapshot_before
    assert _read_back(settings)["chunk_id"].tolist() == ["c1"]
