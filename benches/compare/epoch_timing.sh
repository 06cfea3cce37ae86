#!/usr/bin/env bash
# One training epoch of the 784-100-10 ReLU MLP on the 60000 MNIST images (plain SGD, lr 0.01),
# ours vs PyTorch, both on ONE thread, at batch 32, 64 and 512; median of 3 epochs each.
#
# Ours: `mnist_enn --arms bp --no-explain --predict-enn 0` trains no ENN, draws no Grad-CAM and
# runs no prediction study, so the run is the bp arm alone; its `train_secs` (runs.csv) is the
# training loop only (no data loading, no evaluation). PyTorch: mnist_mlp_torch.py timing, the
# same loop (forward, loss, backward, SGD step) timed around the epoch only. Ours and PyTorch
# alternate batch by batch size so that a change of machine load hits both.
#
# The FMA-bound limit of the epoch: the products that must be computed per image are the
# forward of both layers (2·784·100 + 2·100·10 flops), both weight gradients (the same again)
# and the second layer's input gradient (2·100·10; the first layer's is not needed), 319,600
# flops, × 60000 images = 19.18 GFLOP, divided by the measured single-core FMA peak
# (`gi-peers peak`: the crate's register-only FMA probe for the dispatched ISA, flops per
# second of the thread's own CPU time, best of 10 samples of 20 ms, which load does not lower). "% of limit" = limit / measured epoch. Element-wise work (bias, ReLU, softmax,
# SGD update) is not in the limit, so 100% is out of reach by construction.
#
# Usage: bash benches/compare/epoch_timing.sh
# Run time: ~40 s once built (9 epochs of ours, 9 of PyTorch, 3 PyTorch start-ups); the first
# run also builds the mnist_enn example and the peers project (several minutes).
# Needs: pip install numpy torch.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --quiet --example mnist_enn
cargo build --release --quiet --manifest-path benches/compare/peers/Cargo.toml
python3 -c "import torch" 2>/dev/null || { echo "error: torch is needed: pip install numpy torch" >&2; exit 1; }
read -r peak isa wall_peak < <(GI_NUM_THREADS=1 RAYON_NUM_THREADS=1 MATMUL_NUM_THREADS=1 \
  benches/compare/peers/target/release/gi-peers peak --threads 1)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
start=$(date +%s)

# Median of three numbers, one per line.
median3() { sort -g | sed -n 2p; }

rows=()
for b in 32 64 512; do
  ours=()
  for rep in 1 2 3; do
    GI_NUM_THREADS=1 target/release/examples/mnist_enn --arms bp --seeds 1 --seed-start "$rep" \
      --epochs 1 --batch "$b" --jobs 1 --no-explain --predict-enn 0 --out "$tmp/b$b-$rep" \
      >/dev/null 2>"$tmp/b$b-$rep.err" || { cat "$tmp/b$b-$rep.err" >&2; exit 1; }
    # train_secs by name, not position: runs.csv may gain columns.
    ours+=("$(awk -F, 'NR==1 { for (i = 1; i <= NF; i++) if ($i == "train_secs") c = i }
                       NR==2 { print $c }' "$tmp/b$b-$rep/runs.csv")")
  done
  ours_med=$(printf '%s\n' "${ours[@]}" | median3)
  # The torch script prints "| batch | epoch (s) | per step (us) |" rows; take the epoch.
  torch_med=$(python3 benches/compare/mnist_mlp_torch.py timing --batches "$b" --threads 1 \
    --repeats 3 | awk -F'|' -v b="$b" '$2 + 0 == b { gsub(/ /, "", $3); print $3 }')
  rows+=("$b $ours_med $torch_med")
done

torch_version=$(python3 -c "import torch; print(torch.__version__)")
echo "grad-instructor $(git rev-parse --short HEAD 2>/dev/null || echo '?'), ISA $isa," \
  "GI_NUM_THREADS=1; PyTorch $torch_version, torch.set_num_threads(1);" \
  "CPU $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')"
echo "One epoch of 784-100-10 (ReLU, SGD lr 0.01) on 60000 images, median of 3 epochs."
awk -v p="$peak" -v w="$wall_peak" 'BEGIN {
  flops = 60000 * (2 * 784 * 100 + 2 * 100 * 10) * 2 + 60000 * 2 * 100 * 10
  printf "FMA-bound limit: %.2f GFLOP (forward, dW of both layers, dX of the second) / %.1f GFLOP/s single-core FMA peak (CPU time; %.1f over wall time in this run) = %.3f s\n", flops / 1e9, p, w, flops / 1e9 / p
}'
echo
echo "| batch | ours epoch (s) | ours per step (µs) | PyTorch epoch (s) | PyTorch ÷ ours | ours % of FMA-bound limit |"
echo "|---|---|---|---|---|---|"
for r in "${rows[@]}"; do
  read -r b o t <<<"$r"
  awk -v b="$b" -v o="$o" -v t="$t" -v p="$peak" 'BEGIN {
    flops = 60000 * (2 * 784 * 100 + 2 * 100 * 10) * 2 + 60000 * 2 * 100 * 10
    steps = int((60000 + b - 1) / b)
    printf "| %d | %.3f | %.0f | %.3f | %.2f× | %.0f%% |\n", b, o, 1e6 * o / steps, t, t / o, 100 * flops / 1e9 / p / o
  }'
done
echo
echo "($(( $(date +%s) - start )) s; load average $(cut -d' ' -f1-3 /proc/loadavg); shared machine)"
