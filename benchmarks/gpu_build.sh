#!/usr/bin/env bash
# The GPU run: installs, builds everything on all of ../shared/data with every training pair at 256
# word pieces on CUDA, prints the quality table, exits. Unattended; about 10 minutes on one modern
# NVIDIA GPU (most of it loading and the SQL pipeline, which run on the CPU).
#
#   benchmarks/gpu_build.sh                      # from the project folder
#   CORPUS=/data/shared WHEELS=/wheels benchmarks/gpu_build.sh   # another corpus; install from wheels, offline
#
# Environment: CORPUS (default ../shared/data), WHEELS (a folder of wheels: install with --no-index from it),
# VENV (default .venv-gpu), PYTHON (default python3), EXTRA_VARS (JSON merged over the GPU budget below).
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=${CORPUS:-../shared/data}
VENV=${VENV:-.venv-gpu}
PYTHON=${PYTHON:-python3}
# Every pair (no max_pairs) with TAT-QA's labelled pairs, the model's full window, a large GradCache batch,
# embeddings by PyTorch on the GPU (ONNX Runtime is the CPU's encoder): the GPU budget.
GPU_VARS='{"training": {"max_pairs": null, "max_seq_length": 256, "batch_size": 256, "mini_batch_size": 128},
           "tatqa_training": true, "training_device": "cuda", "embedding_backend": "torch",
           "eval_max_queries": 1000, "eval_max_corpus": 20000}'
started=$(date +%s)

echo "== install into ${VENV}"
test -x "${VENV}/bin/python" || "${PYTHON}" -m venv "${VENV}"
if [ -n "${WHEELS:-}" ]; then
    "${VENV}/bin/python" -m pip install --quiet --no-index --find-links "${WHEELS}" -r requirements.txt
else
    # torch==2.13.0 (pinned in requirements.txt) resolves to its CUDA build on a machine with a GPU.
    "${VENV}/bin/python" -m pip install --quiet -r requirements.txt
fi
"${VENV}/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
"${VENV}/bin/python" -m vectorfin setup-duckdb
touch "${VENV}/bin/.installed"  # what `make` would have installed is there: it installs nothing more
"${VENV}/bin/python" - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("no CUDA device visible to torch " + torch.__version__ + ": this script is for a GPU machine")
print("CUDA device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
EOF

vars=$("${VENV}/bin/python" -c "import json, sys; v = json.loads(sys.argv[1]); v.update(json.loads(sys.argv[2] or '{}')); print(json.dumps(v))" "${GPU_VARS}" "${EXTRA_VARS:-}")
echo "== load ${CORPUS} and build everything with ${vars}"
make build VENV="${VENV}" CORPUS="${CORPUS}" DBT_ARGS="--vars '${vars}'"

echo "== quality table"
"${VENV}/bin/python" benchmarks/quality_report.py --report
echo "== done in $(( $(date +%s) - started )) s"
