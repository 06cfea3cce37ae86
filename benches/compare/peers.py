#!/usr/bin/env python3
"""sgemm side by side: ours, faer, gemm, matrixmultiply (Rust, benches/compare/peers), OpenBLAS
(through numpy) and PyTorch, interleaved shape by shape; one ratio table per thread count.

Usage (run_peers.sh builds the Rust side and calls this):
  python3 benches/compare/peers.py --bin benches/compare/peers/target/release/gi-peers \
      [--threads 1,2 (default: 1 and all CPUs)] [--rounds 2] [--samples 5] [--sample-ms 25] [--warm-ms 60] [--json out.json]

For each thread count T it starts three worker processes, each reading one command per stdin
line and answering one JSON line:
  * gi-peers serve --threads T   with GI_NUM_THREADS = RAYON_NUM_THREADS = MATMUL_NUM_THREADS = T
    (ours reads GI_NUM_THREADS once per process, so every T needs its own process);
  * this script --worker numpy   with OPENBLAS_NUM_THREADS = T and OPENBLAS_CORETYPE /
    OPENBLAS_L2_SIZE removed (set on some machines for old OpenBLAS builds; they slow a current
    one; removed for this worker only), the kernel OpenBLAS picked reported by threadpoolctl;
  * this script --worker torch   with torch.set_num_threads(T).
Then, for each round and each shape, every worker times every library it holds (the worker
order rotates by round) before the next shape starts. Each library gets a warm-up (>= 2 calls
and --warm-ms), then --samples samples of enough calls to last --sample-ms; the table shows the
median GFLOP/s (2mnk / wall time) over all samples of all rounds.

Correctness: the Rust worker writes our C for each shape; every peer's C is compared with it
over the whole matrix against the worst-case bound 2 k^2 2^-24 (operands in [-1, 1), see
gi-peers' `tolerance`). A peer outside it is printed as "wrong" and never counts as best peer.
Operands are the same deterministic values in both languages (see `fill`).
"""
import argparse
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import tempfile
import time

# (label, m, k, n, trans_a, trans_b). The issue-14 shapes, the forward as nn::Linear computes
# it (x W^T, W stored out x in) and the two backward products of the 128x784x100 layer:
# dW = dY^T X (100x128x784, A transposed) and dX = dY W (128x100x784).
SHAPES = [
    ("1024³", 1024, 1024, 1024, False, False),
    ("256³", 256, 256, 256, False, False),
    ("128×784×100", 128, 784, 100, False, False),
    ("128×784×100 ᵀB (x·Wᵀ)", 128, 784, 100, False, True),
    ("64×784×100", 64, 784, 100, False, False),
    ("128×100×10", 128, 100, 10, False, False),
    ("60000×784×100", 60000, 784, 100, False, False),
    ("100×128×784 ᵀA (dW)", 100, 128, 784, True, False),
    ("128×100×784 (dX)", 128, 100, 784, False, False),
]
RUST_LIBS = ["ours", "faer", "gemm", "matrixmultiply"]
A_OFFSET, B_OFFSET = 12_345, 987_654_321


def tolerance(k):
    return 2.0 * k * k * 2.0 ** -24


def fill(np, length, offset):
    """((i * 2654435761 + offset) mod 2^32) / 2^32 * 2 - 1, exact in f64, rounded once to f32."""
    i = np.arange(length, dtype=np.uint64)
    x = (i * np.uint64(2_654_435_761) + np.uint64(offset)) % np.uint64(1 << 32)
    return (x.astype(np.float64) / 4294967296.0 * 2.0 - 1.0).astype(np.float32)


def time_samples(flops, samples, warm, min_sample, f):
    """Same schedule as gi-peers' time_samples: warm-up, calibrate, samples; GFLOP/s per sample
    over wall time and over the process's CPU time."""
    start = time.perf_counter()
    calls = 0
    while calls < 2 or time.perf_counter() - start < warm:
        f()
        calls += 1
    one = (time.perf_counter() - start) / calls
    iters = max(1, int(-(-min_sample // one)))
    wall, cpu = [], []
    for _ in range(samples):
        c0, t0 = time.process_time(), time.perf_counter()
        for _ in range(iters):
            f()
        t1, c1 = time.perf_counter(), time.process_time()
        wall.append(flops * iters / (t1 - t0) / 1e9)
        cpu.append(flops * iters / max(c1 - c0, 1e-9) / 1e9)
    return wall, cpu


# ------------------------------------------------------------------------------------------
# Python workers
# ------------------------------------------------------------------------------------------

def worker(kind, threads, samples, warm, min_sample):
    import numpy as np

    def reply(obj):
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    info = {"numpy": np.__version__}
    if kind == "numpy":
        from threadpoolctl import threadpool_info

        blas = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        info["blas"] = blas
        if not blas or any(p["num_threads"] != threads for p in blas):
            info["error"] = f"BLAS thread count {[p.get('num_threads') for p in blas]} != {threads}"
        name = "numpy"

        def matmul(a, b, c):
            np.matmul(a, b, out=c)

        def wrap(x):
            return x
    else:
        try:
            import torch
        except ImportError as e:
            reply({"error": f"torch not importable: {e}"})
            return
        torch.set_num_threads(threads)
        info["torch"] = torch.__version__
        info["cpu_capability"] = torch.backends.cpu.get_cpu_capability()
        info["blas"] = re.findall(r"BLAS_INFO=(\w+)", torch.__config__.show())
        info["threads"] = torch.get_num_threads()
        if info["threads"] != threads:
            info["error"] = f"torch threads {info['threads']} != {threads}"
        name = "torch"
        torch.set_grad_enabled(False)

        def matmul(a, b, c):
            torch.matmul(a, b, out=c)

        def wrap(x):
            return torch.from_numpy(x)

    for line in sys.stdin:
        w = line.split()
        if not w:
            continue
        if w[0] == "info":
            reply(info)
            continue
        if w[0] != "run" or len(w) != 7:
            reply({"error": f"unknown command {line.strip()!r}"})
            continue
        m, k, n = int(w[1]), int(w[2]), int(w[3])
        ta, tb, ours_path = w[4] == "1", w[5] == "1", w[6]
        a = fill(np, m * k, A_OFFSET).reshape((k, m) if ta else (m, k))
        b = fill(np, k * n, B_OFFSET).reshape((n, k) if tb else (k, n))
        a_op, b_op = wrap(a.T if ta else a), wrap(b.T if tb else b)
        c_np = np.full((m, n), np.nan, dtype=np.float32)
        c = wrap(c_np)
        matmul(a_op, b_op, c)
        diff = None
        if ours_path != "-" and os.path.exists(ours_path):
            ours = np.fromfile(ours_path, dtype="<f4").reshape(m, n)
            d = np.abs(c_np.astype(np.float64) - ours.astype(np.float64))
            diff = float("inf") if not np.all(np.isfinite(c_np)) else float(d.max())
        g, cpu = time_samples(2.0 * m * n * k, samples, warm, min_sample,
                              lambda: matmul(a_op, b_op, c))
        reply({name: {"gflops": g, "cpu_gflops": cpu, "max_diff": diff, "tol": tolerance(k)}})


# ------------------------------------------------------------------------------------------
# Driver
# ------------------------------------------------------------------------------------------

class Worker:
    def __init__(self, name, cmd, env):
        self.name = name
        self.proc = subprocess.Popen(cmd, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     text=True, bufsize=1)

    def ask(self, line):
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        out = self.proc.stdout.readline()
        if not out:
            raise RuntimeError(f"{self.name} worker exited (code {self.proc.poll()})")
        return json.loads(out)

    def close(self):
        try:
            self.proc.stdin.close()
            self.proc.wait(timeout=30)
        except Exception:
            self.proc.kill()


def machine_lines():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    caches = []
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        for line in out.splitlines():
            key, _, val = line.partition(":")
            if key.strip() in ("L1d cache", "L2 cache", "L3 cache"):
                caches.append(f"{key.strip().split()[0]} {val.strip()}")
    except (OSError, subprocess.CalledProcessError):
        caches.append("lscpu unavailable")
    return model, ", ".join(caches)


def fmt(x):
    return "—" if x is None else f"{x:.1f}"


def run_threads(args, t, shapes, tmp, log):
    base = dict(os.environ)
    rust_env = dict(base, GI_NUM_THREADS=str(t), RAYON_NUM_THREADS=str(t), MATMUL_NUM_THREADS=str(t))
    np_env = {k: v for k, v in base.items() if k not in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")}
    np_env.update(OPENBLAS_NUM_THREADS=str(t), OMP_NUM_THREADS=str(t))
    # The torch worker imports numpy only to build the operands: keep OpenBLAS' pool at 1.
    torch_env = dict(base, OMP_NUM_THREADS=str(t), OPENBLAS_NUM_THREADS="1")
    common = ["--threads", str(t), "--samples", str(args.samples), "--warm-ms", str(args.warm_ms),
              "--sample-ms", str(args.sample_ms)]
    me = [sys.executable, os.path.abspath(__file__)]
    workers, notes, info = [], [], {}
    specs = [("rust", [args.bin, "serve"] + common, rust_env),
             ("numpy", me + ["--worker", "numpy"] + common, np_env),
             ("torch", me + ["--worker", "torch"] + common, torch_env)]
    for name, cmd, env in specs:
        try:
            w = Worker(name, cmd, env)
            i = w.ask("info")
        except (OSError, RuntimeError, json.JSONDecodeError) as e:
            notes.append(f"{name}: could not start ({e})")
            continue
        if "error" in i:
            notes.append(f"{name}: {i['error']}")
            w.close()
            continue
        info[name] = i
        workers.append(w)
    rust = next((w for w in workers if w.name == "rust"), None)
    peaks = [rust.ask("peak")] if rust else []
    # samples[label][lib] = list of GFLOP/s; diffs[label][lib] = worst max_diff seen.
    samples = {s[0]: {} for s in shapes}
    cpu_samples = {s[0]: {} for s in shapes}
    diffs = {s[0]: {} for s in shapes}
    for r in range(args.rounds):
        for label, m, k, n, ta, tb in shapes:
            ours_path = os.path.join(tmp, f"c_{m}x{k}x{n}_{int(ta)}{int(tb)}.f32")
            order = workers[r % len(workers):] + workers[:r % len(workers)] if workers else []
            if r == 0 and rust in order:  # ours' C must exist before the Python workers check
                order.remove(rust)
                order.insert(0, rust)
            for w in order:
                # A pause between workers: OpenBLAS' and OpenMP's idle threads spin for a while
                # after a call (~0.1 s) and would steal a core from the next library.
                time.sleep(0.15)
                out = ours_path if r == 0 else "-"
                cmd = f"run {m} {k} {n} {int(ta)} {int(tb)}"
                if w is rust:  # the Rust libraries' order rotates too
                    libs = RUST_LIBS[r % 4:] + RUST_LIBS[:r % 4]
                    cmd += f" {','.join(libs)} {out}"
                else:
                    cmd += f" {out}"
                res = w.ask(cmd)
                for lib, v in res.items():
                    samples[label].setdefault(lib, []).extend(v["gflops"])
                    cpu_samples[label].setdefault(lib, []).extend(v["cpu_gflops"])
                    if v.get("max_diff") is not None:
                        prev = diffs[label].get(lib, 0.0)
                        diffs[label][lib] = max(prev, v["max_diff"])
                    if w is not rust and r == 0 and v.get("max_diff") is None:
                        diffs[label][lib] = float("inf")  # never checked: do not trust it
            log(f"  {t} thread(s), round {r + 1}/{args.rounds}: {label} done")
    if rust:  # once more at the end: the best of both is the machine's capability
        peaks.append(rust.ask("peak"))
    peak = {key: max((p[key] for p in peaks if p[key] is not None), default=None)
            for key in ("peak_gflops", "peak_wall_gflops")}
    for w in workers:
        w.close()
    return {"samples": samples, "cpu_samples": cpu_samples, "max_diff": diffs, "peak": peak,
            "info": info, "notes": notes}


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--bin", help="gi-peers binary (benches/compare/peers/target/release/gi-peers)")
    p.add_argument("--threads", help="comma-separated thread counts [1 and all CPUs]")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--samples", type=int, default=5)
    p.add_argument("--sample-ms", type=int, default=25)
    p.add_argument("--warm-ms", type=int, default=60)
    p.add_argument("--json", help="write every sample here")
    p.add_argument("--worker", choices=["numpy", "torch"], help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        t = int(args.threads)
        worker(args.worker, t, args.samples, args.warm_ms / 1e3, args.sample_ms / 1e3)
        return
    if not args.bin or not os.path.exists(args.bin):
        sys.exit("error: --bin must name the built gi-peers binary (run benches/compare/run_peers.sh)")
    if args.rounds < 2:
        print("note: fewer than 2 rounds", file=sys.stderr)
    threads = ([int(t) for t in args.threads.split(",")] if args.threads
               else sorted({1, os.cpu_count() or 1}))
    log = lambda s: print(s, file=sys.stderr, flush=True)
    model, caches = machine_lines()
    t_start = time.perf_counter()
    load = os.getloadavg()
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for t in threads:
            results[t] = run_threads(args, t, SHAPES, tmp, log)
    wall = time.perf_counter() - t_start
    load_end = os.getloadavg()

    any_info = {k: v for r in results.values() for k, v in r["info"].items()}
    isa = any_info.get("rust", {}).get("isa", "?")
    print(f"CPU: {model} ({os.cpu_count()} logical CPUs, {platform.machine()}); caches (lscpu): {caches}")
    print(f"ISA picked by our dispatch: {isa}. FMA peak (the crate's register-only {isa} FMA probe, "
          "flops per second of each thread's CPU time, which other load does not lower): "
          + "; ".join(f"{fmt(r['peak']['peak_gflops'])} GFLOP/s on {t} thread(s) "
                      f"({fmt(r['peak']['peak_wall_gflops'])} over wall time in this run)"
                      for t, r in results.items()))
    if "numpy" in any_info:
        b = any_info["numpy"]["blas"][0]
        print(f"numpy {any_info['numpy']['numpy']}: {b['internal_api']} {b.get('version')}, "
              f"kernel {b.get('architecture')} ({b.get('threading_layer')}) per threadpoolctl, "
              "OPENBLAS_CORETYPE/OPENBLAS_L2_SIZE unset")
    if "torch" in any_info:
        ti = any_info["torch"]
        print(f"PyTorch {ti['torch']}: BLAS {', '.join(ti['blas']) or '?'}, CPU capability "
              f"{ti['cpu_capability']}")
    print(f"Load average (1 min) {load[0]:.2f} at start, {load_end[0]:.2f} at end (a shared "
          f"machine); harness wall time {wall:.0f} s; {args.rounds} rounds × {args.samples} "
          f"samples of ≥ {args.sample_ms} ms per library and shape, interleaved by shape")
    for t, r in results.items():
        tables = [("wall", r["samples"], "median GFLOP/s over wall time")]
        if t == 1:
            tables.append(("cpu", r["cpu_samples"],
                           "median GFLOP/s over the process's CPU time (what the core did while "
                           "the library ran; steadier on a loaded machine)"))
        for kind, samples, what in tables:
            print()
            print(f"#### {t} thread{'s' if t > 1 else ''}, {what}")
            print()
            print_table(samples, r["max_diff"], r["peak"]["peak_gflops"])
        for note in r["notes"]:
            print(f"\nnote: {note}")
    if args.json:
        with open(args.json + ".tmp", "w") as f:
            json.dump({"machine": [model, caches, isa], "results": results}, f, indent=1)
        os.replace(args.json + ".tmp", args.json)


NAMES = {"ours": "ours", "faer": "faer 0.24", "gemm": "gemm 0.19",
         "matrixmultiply": "matrixmultiply 0.3", "numpy": "OpenBLAS (numpy)", "torch": "PyTorch"}
COLS = ["ours", "faer", "gemm", "matrixmultiply", "numpy", "torch"]


def print_table(samples, diffs, peak):
    print("| shape (m×k×n) | " + " | ".join(NAMES[c] for c in COLS)
          + " | best peer | ours ÷ best peer | ours % of FMA peak |")
    print("|---" * (len(COLS) + 4) + "|")
    for label, m, k, n, ta, tb in SHAPES:
        cells, best, best_lib, med = [], None, None, {}
        for c in COLS:
            s = samples[label].get(c)
            if not s:
                cells.append("—")
                continue
            med[c] = statistics.median(s)
            if c != "ours" and diffs[label].get(c, float("inf")) > tolerance(k):
                cells.append(f"wrong ({diffs[label].get(c, float('inf')):.1e})")
                continue
            cells.append(fmt(med[c]))
            if c != "ours" and (best is None or med[c] > best):
                best, best_lib = med[c], c
        ours = med.get("ours")
        ratio = f"{ours / best:.2f}" if ours and best else "—"
        pk = f"{100 * ours / peak:.0f}%" if ours and peak else "—"
        print(f"| {label} | " + " | ".join(cells) + f" | {NAMES.get(best_lib, '—')} | {ratio} | {pk} |")


if __name__ == "__main__":
    main()
