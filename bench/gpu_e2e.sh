#!/usr/bin/env bash
# For a lent GPU machine (the `run` tool: repository root, results under $OUT):
#   bash bench/gpu_e2e.sh MODEL_DIR [extra bench/gpu_e2e.py options]
# Nothing is installed (no package registry there): the machine's python must have geobatch's
# dependencies and onnxruntime-gpu. Without a CUDA provider it prints "not measured: <why>" and exits 3.
set -euo pipefail
MODEL=${1:?usage: bash bench/gpu_e2e.sh MODEL_DIR [options]}
shift
OUT=${OUT:-bench/results}
PY=${PYTHON:-python3}
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv > "$OUT/gpu_e2e_device.txt" 2>&1 || true
PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" "$PY" bench/gpu_e2e.py --model "$MODEL" --out "$OUT" "$@" 2>&1 | tee "$OUT/gpu_e2e.log"
