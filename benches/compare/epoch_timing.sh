#!/usr/bin/env bash
# One training epoch of the 784-100-10 ReLU MLP on the 60000 MNIST images (plain SGD,
# lr 0.01), ours vs PyTorch, both on ONE thread, at batch 32, 64 and 512; median of 3.
# Ours: `mnist_enn --arms bp` and its `train_secs` (training only, no evaluation).
# PyTorch: benches/compare/mnist_mlp_torch.py timing (same loop: forward, loss, backward, step).
# Usage: bash benches/compare/epoch_timing.sh
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --example mnist_enn 2>/dev/null
tmp=$(mktemp -d)
echo "grad-instructor $(git rev-parse --short HEAD 2>/dev/null || echo '?'), GI_NUM_THREADS=1"
echo "| batch | epoch (s) | per step (us) |"
echo "|---|---|---|"
for b in 32 64 512; do
  times=()
  for rep in 1 2 3; do
    GI_NUM_THREADS=1 target/release/examples/mnist_enn --arms bp --seeds 1 --seed-start "$rep" \
      --epochs 1 --batch "$b" --jobs 1 --no-explain --out "$tmp/b$b-$rep" >/dev/null 2>&1
    times+=("$(awk -F, 'NR==2 {print $7}' "$tmp/b$b-$rep/runs.csv")")
  done
  med=$(printf '%s\n' "${times[@]}" | sort -g | sed -n 2p)
  steps=$(( (60000 + b - 1) / b ))
  awk -v b="$b" -v m="$med" -v s="$steps" 'BEGIN { printf "| %d | %.3f | %.0f |\n", b, m, 1e6 * m / s }'
done
rm -rf "$tmp"
python3 benches/compare/mnist_mlp_torch.py timing --batches 32,64,512 --threads 1 --repeats 3
