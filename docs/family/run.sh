#!/usr/bin/env bash
# Trains every autoencoder variant on CIFAR-10 and benchmarks them side by side.
# Usage: bash docs/family/run.sh [CIFAR_DIR] [WORK_DIR] [EPOCHS]
#   CIFAR_DIR holds train/<class>/*.jpg and test/<class>/*.jpg (see ../shared/datasets).
set -euo pipefail
DATA=${1:-$HOME/.cache/datasets/cifar10}
WORK=${2:-family-runs}
EPOCHS=${3:-3}
mkdir -p "$WORK"
declare -A VARIANTS=(
  [undercomplete-transpose]="--variant undercomplete --decoder transpose"
  [undercomplete-bilinear]="--variant undercomplete --decoder bilinear"
  [denoising]="--variant denoising --corruption both --decoder transpose"
  [denoising-patches]="--variant denoising --corruption patches --decoder bilinear"
  [sparse-l1]="--variant sparse --sparsity l1 --decoder transpose"
  [contractive]="--variant contractive --decoder transpose"
  [vae]="--variant vae --beta 1 --decoder transpose"
  [tied]="--variant tied"
  [binary-64]="--variant undercomplete --binary-bits 64 --decoder bilinear"
)
MODELS=()
for name in undercomplete-transpose undercomplete-bilinear denoising denoising-patches sparse-l1 \
  contractive vae tied binary-64; do
  if [ ! -f "$WORK/$name/CURRENT" ]; then
    # shellcheck disable=SC2086
    latentsearch train --data "$DATA/train" --out "$WORK/$name" --epochs "$EPOCHS" \
      --latent-dim 128 --search-code bottleneck ${VARIANTS[$name]}
  fi
  MODELS+=(--model "$WORK/$name")
done
# The same weights with the projected search code (what `train` does by default).
PROJECTED=(undercomplete-transpose undercomplete-bilinear denoising denoising-patches sparse-l1 contractive)
TODO=()
for name in "${PROJECTED[@]}"; do
  [ -f "$WORK/$name+features/CURRENT" ] || TODO+=("$name")
  MODELS+=(--model "$WORK/$name+features")
done
if [ ${#TODO[@]} -gt 0 ]; then
  python "$(dirname "$0")/project.py" "$DATA/train" "$WORK" "${TODO[@]}"
fi
for metric in l2 cosine; do
  latentsearch bench --data "$DATA/train" --query-data "$DATA/test" --queries-per-class 100 \
    "${MODELS[@]}" --metric "$metric" --out "$WORK/bench-$metric"
done
