"""The encoders `chunk_embeddings` can run (var `embedding_backend`) and where their model files live.

Plain data, free of torch and ONNX Runtime, so the settings check (`vectorfin.config.validation`, run by
every dbt command) can import it cheaply; `vectorfin.ml.encoders` does the work.
"""

from __future__ import annotations

TORCH = "torch"
ONNX = "onnx"
ONNX_INT8 = "onnx_int8"
# torch: the model's own PyTorch weights (any device). onnx: the same model exported to ONNX and run by
# ONNX Runtime on the CPU. onnx_int8: that export with its matrix products in int8 (weights and, at run
# time, activations quantised in blocks: dynamic quantisation, no calibration data).
EMBEDDING_BACKENDS: tuple[str, ...] = (TORCH, ONNX, ONNX_INT8)

# Exports are cached in this folder of the model's artifact folder, in sentence-transformers' own layout
# for ONNX files (`onnx/model.onnx`), so a rerun exports nothing.
ONNX_FOLDER = "onnx"
ONNX_FILES: dict[str, str] = {ONNX: "model.onnx", ONNX_INT8: "model_qint8.onnx"}
