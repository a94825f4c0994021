"""The encoder behind `chunk_embeddings`: a sentence-transformers model run by PyTorch, or exported to ONNX
and run by ONNX Runtime, optionally with int8 quantisation (the fastest on a CPU).

Why not sentence-transformers' `SentenceTransformer(path, backend="onnx")`: that backend exports and
runs models through optimum-onnx, whose releases require transformers < 4.58, and the project runs
transformers 5.23 (optimum-onnx 0.1.0 fails to import with it: `cannot import name
'get_parameter_dtype' from 'transformers.modeling_utils'`). So this module does those steps with the
libraries underneath optimum: torch's ONNX exporter writes `onnx/model.onnx`, ONNX Runtime's quantiser
writes `onnx/model_qint8.onnx`, and an `OnnxTransformerModel` takes the place in the model's Transformer
module that the ONNX backend gives optimum's `ORTModelForFeatureExtraction`. Tokenisation, batching,
pooling, normalisation and `encode` remain sentence-transformers' own, so every caller keeps using a
`SentenceTransformer`.

The int8 model quantises every matrix product's weights to int8 in blocks of 32 values, and at run
time its activations the same way (ONNX Runtime's `MatMulNBits`, int8 compute): dynamic quantisation,
no calibration data. The per-tensor dynamic quantisation that sentence-transformers'
`export_dynamic_quantized_onnx_model` applies (`quantize_dynamic`) was faster but moved NDCG@10 more
on the evaluation sets than block-wise int8 does (docs/benchmarks.md#embedding-throughput).

Exports are cached in the model's artifact folder (see `backends.ONNX_FILES`), written to a temporary
file and renamed, so a killed build never leaves half a file and a rerun exports nothing. A cached file
ONNX Runtime cannot load is exported again, with a warning.
"""

from __future__ import annotations

import copy
import logging
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import onnxruntime
import torch
from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
from sentence_transformers import SentenceTransformer
from sentence_transformers.base.modules.transformer import Transformer
from torch import nn
from transformers import PretrainedConfig
from transformers.modeling_outputs import BaseModelOutput

from vectorfin.files import write_path_atomically
from vectorfin.ml.backends import EMBEDDING_BACKENDS, ONNX, ONNX_FILES, ONNX_INT8, TORCH

logger = logging.getLogger(__name__)

OUTPUT_NAME = "last_hidden_state"
OPSET_VERSION = 17
# int8 quantisation: weights and (at run time) activations in blocks of this many values along the
# inner dimension, each block with its own scale; symmetric, int8 arithmetic (ONNX Runtime's
# MatMulNBits accuracy level 4). Blocks of 32 kept the vectors closest to the float model's
# (cosine >= 0.998 on real chunks) at about the speed of blocks of 128.
INT8_BITS = 8
INT8_BLOCK_SIZE = 32
INT8_ACCURACY_LEVEL = 4
TRACE_TEXTS = ("a short text", "a somewhat longer text to trace")  # any: batch and length stay dynamic
# The float export must reproduce the PyTorch model; checked on texts of lengths the trace did not see.
EXPORT_CHECK_TEXTS = (
    "Revenue grew 8% year over year.",
    "Gross margin narrowed by 120 basis points on higher freight and input costs, partly offset by pricing.",
)
EXPORT_TOLERANCE = 1e-3  # largest difference of a hidden-state value (they are of order 1)


class OnnxExportError(RuntimeError):
    """The model could not be exported to ONNX, or the export does not reproduce the model."""


class OnnxTransformerModel(nn.Module):
    """An ONNX Runtime session that answers like the Hugging Face model it was exported from:
    `forward(**tokenizer_output)` returns the `last_hidden_state`."""

    def __init__(self, path: Path, config: PretrainedConfig, backend: str) -> None:
        super().__init__()
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = torch.get_num_threads()  # the same cores PyTorch would use
        # Idle threads sleep rather than spin: spinning burnt ~20% more CPU per chunk, for no faster
        # batches, on the shared 2-core machine (big matrix products keep the threads busy anyway).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        self.input_names = [node.name for node in self.session.get_inputs()]
        self.config = config
        self.backend = backend
        self.path = path
        self.device = torch.device("cpu")

    def forward(self, **features: object) -> BaseModelOutput:
        missing = [name for name in self.input_names if name not in features]
        if missing:
            raise ValueError(
                f"{self.path} needs the inputs {', '.join(missing)}, which the tokenizer did not give"
            )
        feeds = {name: _as_int64(features[name]) for name in self.input_names}
        (hidden,) = self.session.run([OUTPUT_NAME], feeds)
        return BaseModelOutput(last_hidden_state=torch.from_numpy(hidden))


def _as_int64(value: object) -> np.ndarray:
    array = value.numpy() if isinstance(value, torch.Tensor) else np.asarray(value)
    return array.astype(np.int64, copy=False)


class _LastHiddenState(nn.Module):
    """The Hugging Face model with positional inputs and one output, the shape torch's exporter traces."""

    def __init__(self, model: nn.Module, input_names: list[str]) -> None:
        super().__init__()
        self.model = model
        self.input_names = input_names

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.model(**dict(zip(self.input_names, inputs, strict=True))).last_hidden_state


def backend_of(model: SentenceTransformer) -> str:
    """The backend `model` encodes with (as set by `use_backend`)."""
    hf_model = _transformer(model).model
    return hf_model.backend if isinstance(hf_model, OnnxTransformerModel) else TORCH


def use_backend(model: SentenceTransformer, backend: str, onnx_folder: Path) -> SentenceTransformer:
    """`model` encoding with `backend`: unchanged for torch; for onnx and onnx_int8 its Transformer
    module runs the ONNX file in `onnx_folder` (exported from `model` first when missing). Changes and
    returns `model` itself: its PyTorch weights are dropped."""
    if backend not in EMBEDDING_BACKENDS:
        raise ValueError(f"embedding backend must be one of {', '.join(EMBEDDING_BACKENDS)}, got {backend!r}")
    if backend == TORCH:
        return model
    transformer = _transformer(model)
    path = onnx_folder / ONNX_FILES[backend]
    cached = [onnx_folder / name for name in ONNX_FILES.values() if (onnx_folder / name).is_file()]
    try:
        if not path.is_file():
            write_onnx(model, backend, onnx_folder)
        session = OnnxTransformerModel(path, transformer.model.config, backend)
    except Exception as error:  # ONNX Runtime raises its own (non-public) exception types
        if not cached:
            raise
        logger.warning("Cached ONNX model in %s is unreadable, exporting it again: %s", onnx_folder, error)
        for stale in cached:
            stale.unlink(missing_ok=True)
        write_onnx(model, backend, onnx_folder)
        session = OnnxTransformerModel(path, transformer.model.config, backend)
    model.to("cpu")  # ONNX Runtime runs on the CPU: inputs are prepared there
    transformer.model = session
    logger.info("Encoding with %s (%s)", backend, path)
    return model


def write_onnx(model: SentenceTransformer, backend: str, onnx_folder: Path) -> None:
    """Write the ONNX file(s) `backend` needs: the float export, and for onnx_int8 its quantisation."""
    onnx_folder.mkdir(parents=True, exist_ok=True)
    float_path = onnx_folder / ONNX_FILES[ONNX]
    if not float_path.is_file():
        logger.info("Exporting %s to ONNX: %s", type(_transformer(model).model).__name__, float_path)
        write_path_atomically(float_path, lambda temporary: export_onnx(model, temporary))
    if backend == ONNX_INT8:
        quantized_path = onnx_folder / ONNX_FILES[ONNX_INT8]
        logger.info("Quantising %s to int8: %s", float_path, quantized_path)
        write_path_atomically(quantized_path, lambda temporary: quantize_int8(float_path, temporary))


def export_onnx(model: SentenceTransformer, path: Path) -> None:
    """Export the model's transformer to ONNX at `path` (inputs named as its tokenizer's, batch and
    sequence dynamic, output `last_hidden_state`), and check it reproduces the PyTorch model."""
    transformer = _transformer(model)
    input_names = list(transformer.tokenizer.model_input_names)
    # A copy is traced: torch's exporter leaves the module it traced in training mode (dropout on), and
    # the caller's model must stay as it was, the reference `_check_export` compares the export with.
    hf_model = copy.deepcopy(transformer.model).to("cpu").eval()
    sample = transformer.tokenizer(list(TRACE_TEXTS), padding=True, return_tensors="pt")
    dynamic_axes = {name: {0: "batch", 1: "sequence"} for name in (*input_names, OUTPUT_NAME)}
    try:
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")  # tracer warnings about Python values taken as constants
            torch.onnx.export(
                _LastHiddenState(hf_model, input_names),
                tuple(sample[name] for name in input_names),
                str(path),
                dynamo=False,
                input_names=input_names,
                output_names=[OUTPUT_NAME],
                dynamic_axes=dynamic_axes,
                opset_version=OPSET_VERSION,
            )
    except Exception as error:
        raise OnnxExportError(f"could not export {type(hf_model).__name__} to ONNX: {error}") from error
    _check_export(transformer, input_names, path)


def _check_export(transformer: Transformer, input_names: list[str], path: Path) -> None:
    """Against the model as sentence-transformers runs it (its own attention implementation)."""
    features = transformer.tokenizer(list(EXPORT_CHECK_TEXTS), padding=True, return_tensors="pt")
    hf_model = transformer.model
    was_training = hf_model.training
    with torch.no_grad():
        expected = hf_model.eval()(**{name: features[name].to(hf_model.device) for name in input_names})
    hf_model.train(was_training)
    expected = expected.last_hidden_state.float().cpu().numpy()
    exported = OnnxTransformerModel(path, hf_model.config, ONNX)(**features).last_hidden_state.numpy()
    real_tokens = features["attention_mask"].numpy().astype(bool)  # padding positions are never pooled
    difference = float(np.abs(expected - exported)[real_tokens].max())
    if difference > EXPORT_TOLERANCE:
        raise OnnxExportError(
            f"the ONNX export {path} does not reproduce the model: hidden states differ by up to "
            f"{difference:.2e} (tolerance {EXPORT_TOLERANCE})"
        )


def quantize_int8(float_path: Path, path: Path) -> None:
    """Block-wise int8 quantisation of the float ONNX model at `float_path`, written to `path`."""
    logging.disable(logging.WARNING)  # the quantiser logs a line per tensor to the root logger
    try:
        quantizer = MatMulNBitsQuantizer(
            onnx.load(str(float_path)),
            bits=INT8_BITS,
            block_size=INT8_BLOCK_SIZE,
            is_symmetric=True,
            accuracy_level=INT8_ACCURACY_LEVEL,
        )
        quantizer.process()
        quantizer.model.save_model_to_file(str(path))
    finally:
        logging.disable(logging.NOTSET)


def encode_by_length(
    model: SentenceTransformer,
    texts: list[str],
    batch_size: int,
    on_batch: Callable[[int], None] | None = None,
) -> np.ndarray:
    """Unit-length float32 vectors of `texts`, in their order. The texts are encoded longest first in
    batches of similar length, so a batch is padded to little more than its own texts; `on_batch` is
    called with the size of each batch done (progress)."""
    vectors = np.empty((len(texts), model.get_embedding_dimension()), dtype=np.float32)
    # the length sentence-transformers itself sorts by: characters, a close proxy for word pieces
    order = np.argsort([-len(text) for text in texts], kind="stable")
    for start in range(0, len(texts), batch_size):
        batch = order[start : start + batch_size]
        vectors[batch] = model.encode(
            [texts[i] for i in batch],
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        if on_batch is not None:
            on_batch(len(batch))
    return vectors


def _transformer(model: SentenceTransformer) -> Transformer:
    first = model[0]
    if not isinstance(first, Transformer):
        raise ValueError(
            f"an ONNX backend needs a model whose first module is a Transformer, got {type(first).__name__}"
        )
    return first
