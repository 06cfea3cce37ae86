#!/usr/bin/env python3
"""numpy (OpenBLAS) sgemm GFLOP/s for the shapes of benches/kernels/sgemm.rs.

Usage: python3 benches/compare/sgemm_numpy.py [--threads 1,2] [--seconds 2]

Each thread count runs in a fresh subprocess, because OpenBLAS reads OPENBLAS_NUM_THREADS
when it loads. Shapes use the bench's ids `<m>x<k>x<n>[_ta|_tb]`; a transposed operand is
a transposed numpy view, which numpy passes to BLAS as a transpose flag (no copy). Figures are
the median of repeated timings (the machine is shared and noisy: compare ratios within a run).
"""
import argparse
import json
import os
import subprocess
import sys
import time

SQUARES = [64, 128, 256, 512, 1024]
# (m, k, n, trans_a, trans_b): the same table as MLP_SHAPES in benches/kernels/sgemm.rs.
MLP_SHAPES = [
    (128, 784, 100, False, False),
    (128, 784, 100, False, True),
    (100, 128, 784, True, False),
    (128, 100, 784, False, False),
    (128, 100, 10, False, False),
    (128, 100, 10, False, True),
    (10, 128, 100, True, False),
    (128, 10, 100, False, False),
    (60000, 784, 100, False, False),
]


def shape_id(m, k, n, ta, tb):
    tag = {(False, False): "", (True, False): "_ta", (False, True): "_tb", (True, True): "_tab"}
    return f"{m}x{k}x{n}{tag[(ta, tb)]}"


def measure(seconds):
    """Runs in the child: returns {shape_id: (median wall GFLOP/s, best CPU-time GFLOP/s)}.

    CPU time is the process's (all its threads): with one thread it matches the Rust bench's
    GI_SGEMM_CPU_TABLE figures; with more it is throughput per busy core, not speed-up."""
    import numpy as np

    rng = np.random.default_rng(1)
    shapes = [(s, s, s, False, False) for s in SQUARES] + MLP_SHAPES
    out = {}
    for m, k, n, ta, tb in shapes:
        a = rng.uniform(-1, 1, (k, m) if ta else (m, k)).astype(np.float32)
        b = rng.uniform(-1, 1, (n, k) if tb else (k, n)).astype(np.float32)
        a_op = a.T if ta else a
        b_op = b.T if tb else b
        c = np.empty((m, n), dtype=np.float32)
        np.matmul(a_op, b_op, out=c)  # warm-up (and thread-pool start)
        flops = 2.0 * m * n * k
        # Iterations per sample so that one sample takes ~seconds/10.
        t0 = time.perf_counter()
        np.matmul(a_op, b_op, out=c)
        one = max(time.perf_counter() - t0, 1e-7)
        iters = max(1, min(int(seconds / 10 / one), 100_000))
        samples, cpu_best = [], 0.0
        for _ in range(10):
            t0, c0 = time.perf_counter(), time.process_time()
            for _ in range(iters):
                np.matmul(a_op, b_op, out=c)
            wall, cpu = time.perf_counter() - t0, time.process_time() - c0
            samples.append(flops * iters / wall / 1e9)
            cpu_best = max(cpu_best, flops * iters / max(cpu, 1e-9) / 1e9)
        samples.sort()
        out[shape_id(m, k, n, ta, tb)] = ((samples[4] + samples[5]) / 2, cpu_best)
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", default="1,2")
    p.add_argument("--seconds", type=float, default=2.0)
    p.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.child:
        print(json.dumps(measure(args.seconds)))
        return
    try:
        import numpy as np
    except ImportError:
        sys.exit("numpy is missing: pip install numpy")
    threads = [int(t) for t in args.threads.split(",")]
    results = {}
    for t in threads:
        # OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE are set on some machines for old OpenBLAS
        # builds and slow a current one: removed for this child only (see peers.py).
        env = {k: v for k, v in os.environ.items()
               if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
        env.update(OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
        proc = subprocess.run(
            [sys.executable, __file__, "--child", "--seconds", str(args.seconds)],
            env=env, capture_output=True, text=True, check=True,
        )
        results[t] = json.loads(proc.stdout)
    kernel = subprocess.run(
        [sys.executable, "-c", "import numpy, threadpoolctl; "
         "print(*[(p['internal_api'], p.get('version'), p.get('architecture')) "
         "for p in threadpoolctl.threadpool_info() if p['user_api'] == 'blas'])"],
        env={k: v for k, v in os.environ.items()
             if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")},
        capture_output=True, text=True).stdout.strip() or "? (pip install threadpoolctl)"
    print(f"numpy {np.__version__} sgemm GFLOP/s: median wall time and best CPU time "
          f"(OPENBLAS_NUM_THREADS = t); BLAS kernel {kernel}")
    head = "".join(f"{f'{t}t wall':>10}{f'{t}t cpu':>10}" for t in threads)
    print(f"{'shape':<22}" + head)
    for sid in results[threads[0]]:
        row = "".join(f"{results[t][sid][0]:>10.1f}{results[t][sid][1]:>10.1f}" for t in threads)
        print(f"{sid:<22}" + row)


if __name__ == "__main__":
    main()
