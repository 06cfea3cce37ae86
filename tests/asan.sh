#!/usr/bin/env bash
# Runs the kernel tests (the only code with `unsafe`) under AddressSanitizer, once per ISA the
# CPU supports: heap/stack buffer overflows, use-after-free and leaks make it fail.
#
# Why beside tests/memcheck.sh: valgrind does not implement AVX-512 and hides it from CPUID, so
# memcheck never runs the AVX-512 kernels. ASan instruments the compiled code itself and runs on
# the real CPU, so every ISA the machine has is checked.
#
# How: `-Zsanitizer=address` is a nightly flag; RUSTC_BOOTSTRAP=1 lets the stable compiler take
# it (as fuzz/README.md does for cargo-fuzz). `--target` is given explicitly so RUSTFLAGS apply
# to the crate and its tests but not to build scripts and proc-macros (which would fail to link
# against the sanitizer runtime). The standard library itself is not instrumented (that would
# need -Zbuild-std); the kernels' slices, the test data and every heap allocation are, since
# ASan intercepts malloc. Debug assertions are switched on as well, so the kernels' `debug_assert!`
# preconditions (slice lengths against dimensions) are checked under the sanitizer too.
#
# What runs: every tests/kernels_*.rs file (selected by file, not by test name, so it follows
# the kernels as they are reorganised) and tests/fuzz_regressions.rs (kernel fuzz findings),
# once per ISA with GI_ISA set. The kernel tests call every supported ISA directly
# (`_with(isa, ..)`) in each run; GI_ISA decides the ISA of the dispatching paths
# (sgemm, conv2d, ...), which is what differs between the runs.
#
# Usage: tests/asan.sh [ISA ...]     (default: portable avx2 avx512, skipping ones the CPU
#        lacks). Target dir: $ASAN_TARGET_DIR (default target/asan, kept apart from the normal
#        build because every crate is compiled with different flags). Extra ASan options in
#        $ASAN_OPTIONS. Prints the time and result per ISA; exit 1 on any finding or failure,
#        2 when it cannot run here.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(uname -m)" != x86_64 ] || [ "$(uname -s)" != Linux ]; then
    echo "asan.sh: written for x86_64 Linux (found $(uname -s) $(uname -m))" >&2
    exit 2
fi
host=x86_64-unknown-linux-gnu
target_dir="${ASAN_TARGET_DIR:-target/asan}"

isas=("$@")
if [ ${#isas[@]} -eq 0 ]; then
    isas=(portable avx2 avx512)
fi

# The same CPU features the crate's run-time detection asks for (src/kernels/isa.rs).
flags=$(grep -m1 '^flags' /proc/cpuinfo || true)
has() { [[ " $flags " == *" $1 "* ]]; }
supported() {
    case "$1" in
        portable) return 0 ;;
        avx2) has avx2 && has fma ;;
        avx512) has avx512f ;;
        *) echo "asan.sh: unknown ISA '$1' (portable, avx2, avx512)" >&2; exit 2 ;;
    esac
}

tests=()
for f in tests/kernels_*.rs tests/fuzz_regressions.rs; do
    [ -e "$f" ] && tests+=(--test "$(basename "$f" .rs)")
done
if [ ${#tests[@]} -eq 0 ]; then
    echo "asan.sh: no tests/kernels_*.rs found" >&2
    exit 2
fi

export RUSTC_BOOTSTRAP=1
export RUSTFLAGS="-Zsanitizer=address -Cdebug-assertions=on ${RUSTFLAGS:-}"
# detect_leaks: LeakSanitizer comes with ASan on x86_64 Linux; a leak is a finding.
# abort_on_error=0 + exitcode: a report ends the test binary with a nonzero status.
export ASAN_OPTIONS="detect_leaks=1:abort_on_error=0:${ASAN_OPTIONS:-}"
cargo_test=(cargo test --release --target "$host" --target-dir "$target_dir" "${tests[@]}")

start=$(date +%s)
if ! build_log=$("${cargo_test[@]}" --no-run 2>&1); then
    echo "$build_log" >&2
    echo "asan.sh: build failed" >&2
    exit 2
fi
echo "== build (ASan, ${tests[*]}): $(( $(date +%s) - start )) s"

# The sanitizer must really be in the binaries (a flag lost on the way would make every run
# "clean"): each test executable references ASan's report functions.
exes=$(echo "$build_log" | sed -n 's|.*Executable tests/.*\.rs (\(.*\))|\1|p')
for exe in $exes; do
    # (no `nm | grep -q`: with pipefail, grep's early exit makes nm's SIGPIPE a failure)
    if [[ "$(nm "$exe" 2>/dev/null)" != *__asan_report_load* ]]; then
        echo "asan.sh: $exe is not instrumented by AddressSanitizer" >&2
        exit 2
    fi
done

status=0
for isa in "${isas[@]}"; do
    if ! supported "$isa"; then
        echo "== GI_ISA=$isa: skipped (this CPU lacks it)"
        continue
    fi
    start=$(date +%s)
    log="$target_dir/asan-$isa.log"
    if GI_ISA="$isa" "${cargo_test[@]}" >"$log" 2>&1; then
        passed=$(grep -Eo '[0-9]+ passed' "$log" | awk '{s += $1} END {print s + 0}')
        echo "== GI_ISA=$isa: clean, $passed tests passed ($(( $(date +%s) - start )) s; log $log)"
    else
        echo "== GI_ISA=$isa: FAILED after $(( $(date +%s) - start )) s; log $log"
        grep -E 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|SUMMARY:|panicked at|FAILED|failed' \
            "$log" | head -n 20 || true
        status=1
    fi
done
exit $status
