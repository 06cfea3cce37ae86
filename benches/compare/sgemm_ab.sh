#!/usr/bin/env bash
# A/B of one sgemm build under different environments, interleaved round by round so that a
# change of machine load hits every variant alike: for each shape, ROUNDS rounds of one
# 0.4 s `examples/sgemm_loop.rs` run per variant; prints the median over rounds of the
# thread-CPU-time GFLOP/s (the steadier figure on a shared machine).
#
# Usage: bash benches/compare/sgemm_ab.sh ROUNDS "VAR=val ...;VAR=val ..." "M K N [ta] [tb]" ...
#   e.g. bash benches/compare/sgemm_ab.sh 7 "GI_SGEMM_PACK_ALWAYS=1;GI_SGEMM_PACK_ALWAYS=0" \
#          "64 784 100 tb" "128 784 100"
# (what reading operands in place gains, `kernels::matmul` docs). One thread unless the
# variants set GI_NUM_THREADS; GI_ISA selects the ISA as everywhere.
set -euo pipefail
cd "$(dirname "$0")/../.."
rounds=$1
IFS=';' read -ra variants <<< "$2"
shift 2
cargo build --release --quiet --example sgemm_loop
bin=target/release/examples/sgemm_loop
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
for shape in "$@"; do
  results=()
  for _ in $(seq "$rounds"); do
    for i in "${!variants[@]}"; do
      # shellcheck disable=SC2086 # a variant is a list of VAR=val words; a shape is words
      g=$(env GI_NUM_THREADS="${GI_NUM_THREADS:-1}" ${variants[$i]} "$bin" $shape 0.4 | awk '{ print $NF }')
      results[i]="${results[i]:-} $g"
    done
  done
  line="$shape:"
  for i in "${!variants[@]}"; do
    line+="  [${variants[$i]}] $(printf '%s\n' ${results[i]} | median)"
  done
  echo "$line"
done
echo "(load average $(cut -d' ' -f1-3 /proc/loadavg); commit $(git rev-parse --short HEAD 2>/dev/null || echo '?'))"
