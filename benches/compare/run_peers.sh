#!/usr/bin/env bash
# sgemm against its peers, interleaved by shape, one ratio table per thread count (issue 14):
# ours, faer, gemm, matrixmultiply (Rust, built here in benches/compare/peers, a standalone
# Cargo project outside the crate's workspace), OpenBLAS through numpy and PyTorch.
#
# Usage: bash benches/compare/run_peers.sh [peers.py options, e.g. --threads 1,2 --rounds 2
#                                          --json /tmp/peers.json]
# Needs: pip install numpy threadpoolctl torch (torch is optional: its column is then empty).
# Takes ~2-3 min on 2 cores once built; the first build of the peers project ~3-5 min.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
manifest=benches/compare/peers/Cargo.toml
echo "grad-instructor $(git rev-parse --short HEAD 2>/dev/null || echo '?'); building $manifest" >&2
cargo build --release --quiet --manifest-path "$manifest"
bin=benches/compare/peers/target/release/gi-peers
python3 -c "import numpy, threadpoolctl" 2>/dev/null || {
  echo "error: numpy and threadpoolctl are needed: pip install numpy threadpoolctl torch" >&2
  exit 1
}
python3 -c "import torch" 2>/dev/null || echo "note: torch is not installed: its column stays empty" >&2
GI_NUM_THREADS=1 RAYON_NUM_THREADS=1 MATMUL_NUM_THREADS=1 "$bin" selftest --threads 1 >&2
start=$(date +%s)
python3 benches/compare/peers.py --bin "$bin" "$@"
echo "run_peers.sh: $(( $(date +%s) - start )) s of timing" >&2
