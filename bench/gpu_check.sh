#!/usr/bin/env bash
# The one-time GPU check (issue 17), for a machine with an NVIDIA GPU: install the CUDA build of TensorFlow
# (`make install-gpu`, needs PyPI), train a short VAE with mixed precision off and on (same seed), and measure the GPU
# section of the benchmark into bench/results.{json,md} (`bench/run.py --gpu_only`). Logs go to $RESULTS.
#   bench/gpu_check.sh                   # from the repository root or anywhere
#   SKIP_INSTALL=1 bench/gpu_check.sh    # .venv already holds the CUDA build
# Takes ~10 min on one GPU plus the install. Afterwards commit bench/results.{json,md} and put $RESULTS/summary.md in
# docs/performance.md (GPUs); the GPU rows say whether the 'auto' rules (tybalt_core/train/training.py: XLA on a GPU;
# tybalt_core/models/backend.py: mixed precision) match what was measured.
set -euo pipefail
cd "$(dirname "$0")/.."
RESULTS=${RESULTS:-bench/gpu_check}
PY=.venv/bin/python
mkdir -p "$RESULTS"

if [ "${SKIP_INSTALL:-0}" != 1 ]; then
  make install-gpu 2>&1 | tee "$RESULTS/install.log"
fi
nvidia-smi --query-gpu=name,compute_cap,memory.total,driver_version --format=csv | tee "$RESULTS/nvidia-smi.csv" \
  || echo "nvidia-smi not available" | tee "$RESULTS/nvidia-smi.csv"

# A short VAE run (the default synthetic data, 20 epochs) with mixed precision off and on: the loss curves should
# agree within noise, and the second one be faster on a GPU of compute capability >= 7.0.
for mixed in false true; do
  started=$SECONDS
  "$PY" Tybalt/tybalt_baseline_keras2.py --epochs 20 --mixed_precision "$mixed" --data_dir "$RESULTS/data" \
    --output_dir "$RESULTS/vae_mixed_$mixed" --overwrite true --verbose true 2>&1 | tee "$RESULTS/vae_mixed_$mixed.log"
  echo "mixed_precision $mixed: $((SECONDS - started)) s wall" | tee -a "$RESULTS/vae_mixed_$mixed.log"
done

# The GPU section of the benchmark (VAE and ADAGE, batch 50 and 200, 10,459 x 5,000), added to bench/results.*.
PYTHONUNBUFFERED=1 "$PY" bench/run.py --gpu_only 2>&1 | tee "$RESULTS/bench_gpu.log"

{
  echo "## GPU check $(date -u '+%Y-%m-%d %H:%M UTC')"
  cat "$RESULTS/nvidia-smi.csv"
  grep -h -e "devices:" -e "mixed precision on" -e "final val_loss" -e "s wall" "$RESULTS"/vae_mixed_*.log
} | tee "$RESULTS/summary.md"
