"""The encoders behind chunk_embeddings (src/vectorfin/ml/encoders.py): the ONNX export and its int8
quantisation reproduce the PyTorch model, are cached and reused, a broken cache or a wrong export is
caught, and texts are encoded longest first but returned in their order."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from sentence_transformers import SentenceTransformer
from torch import nn

from vectorfin.config.training import TrainingConfig
from vectorfin.files import write_path_atomically
from vectorfin.ml import encoders
from vectorfin.ml.backends import EMBEDDING_BACKENDS, ONNX, ONNX_FILES, ONNX_INT8, TORCH
from vectorfin.ml.encoders import (
    OnnxExportError,
    backend_of,
    encode_by_length,
    use_backend,
)

TEXTS = [
    "Revenue rose 8% to $4.1 billion.",
    "Gross margin narrowed by 120 basis points on higher freight and input costs, partly offset by "
    "pricing actions and a better mix of premium products in North America.",
    "We raised full-year EPS guidance.",
    "Capex",
    "Our debt maturities are staggered through 2031, and we expect to refinance the 2025 notes.",
]

pytestmark = pytest.mark.slow


def torch_model() -> SentenceTransformer:
    return SentenceTransformer(TrainingConfig().resolved_base_model(), device="cpu", local_files_only=True)


@pytest.fixture(scope="module")
def torch_vectors() -> np.ndarray:
    return torch_model().encode(TEXTS, normalize_embeddings=True)


@pytest.fixture(scope="module")
def onnx_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One folder with both exports, shared by the tests that only read it."""
    folder = tmp_path_factory.mktemp("onnx")
    use_backend(torch_model(), ONNX_INT8, folder)
    return folder


def cosines(vectors: np.ndarray, reference: np.ndarray) -> np.ndarray:
    return np.sum(vectors * reference, axis=1)


def test_the_float_export_reproduces_the_torch_model(onnx_folder: Path, torch_vectors: np.ndarray) -> None:
    model = use_backend(torch_model(), ONNX, onnx_folder)
    assert backend_of(model) == ONNX
    vectors = model.encode(TEXTS, normalize_embeddings=True)
    assert cosines(vectors, torch_vectors) == pytest.approx([1.0] * len(TEXTS), abs=1e-5)


def test_the_int8_model_is_close_to_the_torch_model(onnx_folder: Path, torch_vectors: np.ndarray) -> None:
    model = use_backend(torch_model(), ONNX_INT8, onnx_folder)
    assert backend_of(model) == ONNX_INT8
    vectors = model.encode(TEXTS, normalize_embeddings=True)
    assert cosines(vectors, torch_vectors).min() > 0.995
    # really quantised: every product with a weight matrix is an 8-bit block-quantised one
    graph = onnx.load(str(onnx_folder / ONNX_FILES[ONNX_INT8])).graph
    quantised = [node for node in graph.node if node.op_type == "MatMulNBits"]
    assert len(quantised) == 36  # 6 layers x (query, key, value, attention output, 2 feed-forward)
    assert {
        attribute.i for node in quantised for attribute in node.attribute if attribute.name == "bits"
    } == {8}


def test_torch_leaves_the_model_as_it_is(tmp_path: Path) -> None:
    model = torch_model()
    transformer = model[0].model
    assert use_backend(model, TORCH, tmp_path) is model
    assert model[0].model is transformer and backend_of(model) == TORCH
    assert not any(tmp_path.iterdir())  # nothing exported


def test_an_unknown_backend_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(
        ValueError, match="embedding backend must be one of torch, onnx, onnx_int8, got 'gpu'"
    ):
        use_backend(torch_model(), "gpu", tmp_path)
    assert EMBEDDING_BACKENDS == (TORCH, ONNX, ONNX_INT8)


def test_a_cached_export_is_reused(onnx_folder: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_export(*args: object) -> None:
        raise AssertionError("the cached export must be reused")

    monkeypatch.setattr(encoders, "export_onnx", no_export)
    monkeypatch.setattr(encoders, "quantize_int8", no_export)
    for backend in (ONNX, ONNX_INT8):
        assert backend_of(use_backend(torch_model(), backend, onnx_folder)) == backend


@pytest.mark.parametrize("backend", [ONNX, ONNX_INT8])
def test_an_unreadable_cached_export_is_exported_again(
    backend: str, tmp_path: Path, torch_vectors: np.ndarray, caplog: pytest.LogCaptureFixture
) -> None:
    """A float export cut short (as a copied or damaged folder might hold it) is exported again, also
    when the int8 model, missing, would be quantised from it."""
    (tmp_path / ONNX_FILES[ONNX]).write_bytes(b"half a file")
    model = use_backend(torch_model(), backend, tmp_path)
    assert "is unreadable, exporting it again" in caplog.text
    assert cosines(model.encode(TEXTS, normalize_embeddings=True), torch_vectors).min() > 0.95


def test_an_export_that_does_not_reproduce_the_model_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A classic export bug, the attention mask not reaching the model (padding is attended to):
    the check against the model must refuse the export and leave no file behind."""

    def forward_without_the_mask(self: nn.Module, *inputs: torch.Tensor) -> torch.Tensor:
        named = dict(zip(self.input_names, inputs, strict=True))
        named.pop("attention_mask")
        return self.model(**named).last_hidden_state

    monkeypatch.setattr(encoders._LastHiddenState, "forward", forward_without_the_mask)
    with pytest.raises(OnnxExportError, match="does not reproduce the model: hidden states differ"):
        use_backend(torch_model(), ONNX, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_leaves_neither_a_file_nor_a_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.onnx"

    def write_half_then_fail(temporary: Path) -> None:
        temporary.write_bytes(b"half")
        raise KeyboardInterrupt  # a build stopped mid-write

    with pytest.raises(KeyboardInterrupt):
        write_path_atomically(target, write_half_then_fail)
    assert list(tmp_path.iterdir()) == []
    write_path_atomically(target, lambda temporary: temporary.write_bytes(b"whole"))
    assert [path.name for path in tmp_path.iterdir()] == ["model.onnx"]
    assert target.read_bytes() == b"whole"


def test_texts_are_encoded_longest_first_and_returned_in_their_order(
    torch_vectors: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = torch_model()
    real_encode = model.encode
    batches: list[list[str]] = []

    def recording_encode(sentences: list[str], **kwargs: object) -> np.ndarray:
        batches.append(list(sentences))
        return real_encode(sentences, **kwargs)

    monkeypatch.setattr(model, "encode", recording_encode)
    done: list[int] = []
    vectors = encode_by_length(model, TEXTS, batch_size=2, on_batch=done.append)
    assert [len(text) for batch in batches for text in batch] == sorted(map(len, TEXTS), reverse=True)
    assert done == [2, 2, 1]
    assert vectors.dtype == np.float32
    assert cosines(vectors, torch_vectors) == pytest.approx([1.0] * len(TEXTS), abs=1e-5)
