"""Chunk embeddings written to Iceberg: vectors, incremental runs, commits in batches, and a real
SIGKILL of a process embedding a corpus, after which a rerun completes without duplicates."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pandas as pd
import pytest
from sentence_transformers import SentenceTransformer

from vectorfin import duck
from vectorfin.config.training import TrainingConfig
from vectorfin.iceberg import get_catalog
from vectorfin.ml.embedding import (
    CHUNK_EMBEDDINGS,
    EMBEDDINGS_NAMESPACE,
    KEY_COLUMN,
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


def _snapshot_count(settings) -> int:
    return len(ensure_embeddings_table(settings).snapshots())


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
def test_chunks_are_committed_in_batches_of_commit_every(model, settings):
    assert embed_missing_chunks(model, CHUNKS, "base", settings, commit_every=2) == 3
    assert _snapshot_count(settings) == 2  # chunks 1-2, then chunk 3
    assert _read_back(settings)["chunk_id"].tolist() == ["c1", "c2", "c3"]
    with pytest.raises(ValueError, match="commit_every must be at least 1, got 0"):
        embed_missing_chunks(model, CHUNKS, "other-run", settings, commit_every=0)


@pytest.mark.slow
def test_a_failure_while_encoding_keeps_the_committed_batches_and_a_rerun_resumes(
    model, settings, monkeypatch
):
    real_encode = model.encode
    encoded: list[str] = []

    def fail_on_the_third_chunk(sentences, **kwargs):
        if len(encoded) == 2:
            raise RuntimeError("CUDA out of memory")
        encoded.extend(sentences)
        return real_encode(sentences, **kwargs)

    monkeypatch.setattr(model, "encode", fail_on_the_third_chunk)
    with pytest.raises(RuntimeError, match="out of memory"):
        embed_missing_chunks(model, CHUNKS, "base", settings, batch_size=1, commit_every=2)
    assert _read_back(settings)["chunk_id"].tolist() == ["c1", "c2"]  # the first batch, whole
    monkeypatch.undo()
    assert embed_missing_chunks(model, CHUNKS, "base", settings, commit_every=2) == 1
    assert _read_back(settings)["chunk_id"].tolist() == ["c1", "c2", "c3"]


KILLED_RUN = "killed-run"
KILL_CORPUS_CHUNKS = 48
KILL_COMMIT_EVERY = 8
# The process the test kills: embeds the corpus in a parquet file, one commit per KILL_COMMIT_EVERY chunks.
EMBEDDING_PROCESS = textwrap.dedent(
    f"""
    import sys
    import pandas as pd
    from sentence_transformers import SentenceTransformer
    from vectorfin.config.training import TrainingConfig
    from vectorfin.ml.embedding import embed_missing_chunks

    model = SentenceTransformer(TrainingConfig().resolved_base_model(), device="cpu", local_files_only=True)
    chunks = pd.read_parquet(sys.argv[1])
    embed_missing_chunks(model, chunks, {KILLED_RUN!r}, batch_size=8, commit_every={KILL_COMMIT_EVERY})
    """
)


def _long_chunks(count: int) -> pd.DataFrame:
    """Distinct chunks of about 150 word pieces, so that each batch takes a while to encode."""
    words = ["revenue", "margin", "guidance", "freight", "pricing", "demand", "inventory", "capital"]
    texts = [" ".join(f"{words[(i * 7 + j) % len(words)]} {i}.{j}%" for j in range(30)) for i in range(count)]
    return pd.DataFrame({"chunk_id": [f"k{i:03d}" for i in range(count)], "chunk_text": texts})


@pytest.mark.slow
def test_a_process_killed_mid_way_loses_at_most_one_batch_and_a_rerun_completes(model, settings, tmp_path):
    chunks = _long_chunks(KILL_CORPUS_CHUNKS)
    corpus = tmp_path / "chunks.parquet"
    chunks.to_parquet(corpus)
    # the environment (warehouse and catalog of this test, vectorfin from this checkout) is inherited
    process = subprocess.Popen(
        [sys.executable, "-c", EMBEDDING_PROCESS, str(corpus)],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    catalog = get_catalog(settings)
    identifier = f"{EMBEDDINGS_NAMESPACE}.{CHUNK_EMBEDDINGS}"
    deadline = time.monotonic() + 180
    while not (catalog.table_exists(identifier) and catalog.load_table(identifier).current_snapshot()):
        if process.poll() is not None:
            pytest.fail(
                f"the embedding process ended before its first commit: {process.stderr.read().decode()}"
            )
        if time.monotonic() > deadline:
            process.kill()
            pytest.fail("no commit within 180 s")
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)  # right after its first commit, mid-way through the corpus
    process.wait()
    assert process.returncode == -signal.SIGKILL

    stored = _read_back(settings)
    assert 0 < len(stored) < KILL_CORPUS_CHUNKS, "the kill must land mid-way"
    assert len(stored) % KILL_COMMIT_EVERY == 0  # whole batches only
    assert stored[KEY_COLUMN].is_unique
    assert embedded_keys(KILLED_RUN, settings) == set(stored[KEY_COLUMN])

    assert embed_missing_chunks(model, chunks, KILLED_RUN, settings) == KILL_CORPUS_CHUNKS - len(stored)
    resumed = _read_back(settings)
    assert sorted(resumed["chunk_id"]) == chunks["chunk_id"].tolist()
    assert resumed[KEY_COLUMN].is_unique
    assert resumed["squared_norm"].tolist() == pytest.approx([1.0] * KILL_CORPUS_CHUNKS, abs=1e-5)
    assert embed_missing_chunks(model, chunks, KILLED_RUN, settings) == 0
