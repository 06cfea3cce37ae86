#!/usr/bin/env bash
# Runs the kernel tests (the only code with `unsafe`) under valgrind's memcheck: invalid reads
# and writes, uses of uninitialized values, bad frees and definite leaks make it fail.
#
# Why valgrind: Miri is not available on the stable toolchain this crate builds with
# (`cargo miri --version`: "the 'miri' component ... is not available for the
# 'stable-x86_64-unknown-linux-gnu' toolchain"), and Miri could not run SIMD intrinsics anyway.
#
# ISA: valgrind (3.19 here) does not implement AVX-512 and hides it from CPUID, so under
# valgrind `is_x86_feature_detected!("avx512f")` is false and the tests that sweep "every ISA
# this CPU supports" cover portable and AVX2+FMA only. GI_ISA defaults to avx2 below so the
# dispatching paths take the AVX2 microkernels explicitly; the AVX-512 kernels are NOT checked
# by this script. Set GI_ISA=portable to check the portable path through dispatch.
#
# Usage: tests/memcheck.sh [test-name ...]   (default: kernels_matmul kernels_conv
#        kernels_pool_resize); extra valgrind flags in $VALGRIND_FLAGS.
set -euo pipefail
cd "$(dirname "$0")/.."

tests=("$@")
if [ ${#tests[@]} -eq 0 ]; then
    tests=(kernels_matmul kernels_small kernels_conv kernels_pool_resize)
fi
export GI_ISA="${GI_ISA:-avx2}"

command -v valgrind >/dev/null || { echo "memcheck.sh: valgrind not found" >&2; exit 2; }

args=()
for t in "${tests[@]}"; do args+=(--test "$t"); done
# Build once; cargo prints "Executable tests/<name>.rs (target/release/deps/<name>-<hash>)".
build_log=$(cargo test --release --no-run "${args[@]}" 2>&1) || { echo "$build_log" >&2; exit 2; }

status=0
for t in "${tests[@]}"; do
    exe=$(echo "$build_log" | sed -n "s|.*Executable tests/$t\.rs (\(.*\))|\1|p" | tail -n 1)
    if [ -z "$exe" ] || [ ! -x "$exe" ]; then
        echo "memcheck.sh: no test binary for $t" >&2
        exit 2
    fi
    echo "== $t ($exe) under memcheck, GI_ISA=$GI_ISA"
    start=$(date +%s)
    # --error-exitcode=1: any memcheck error fails the run even if every test passes.
    # Definite leaks count as errors; "possibly"/"still reachable" (thread-local caches,
    # the test harness) do not.
    if valgrind --tool=memcheck --error-exitcode=1 --leak-check=full \
        --errors-for-leak-kinds=definite --show-leak-kinds=definite \
        ${VALGRIND_FLAGS:-} "$exe" --test-threads=1 -q; then
        echo "== $t: clean ($(( $(date +%s) - start )) s)"
    else
        echo "== $t: FAILED (exit $?) after $(( $(date +%s) - start )) s"
        status=1
    fi
done
exit $status
