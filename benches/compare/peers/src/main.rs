//! GEMM peers timed next to ours: faer, gemm, matrixmultiply and grad-instructor's `sgemm`.
//!
//! Normally driven by `benches/compare/peers.py` (through `run_peers.sh`), which starts one
//! `gi-peers serve --threads T` per thread count together with the numpy and PyTorch workers
//! and interleaves all of them shape by shape. `gi-peers table --threads T` runs the Rust
//! libraries alone and prints their table (no Python needed); `gi-peers selftest` checks that
//! the correctness check flags a deliberately wrong call; `gi-peers peak --threads T` prints
//! `CPU_PEAK ISA WALL_PEAK`: the FMA peak of T cores in GFLOP/s over CPU time, the ISA, and
//! the peak over wall time (used by epoch_timing.sh); `gi-peers spin M K N TA TB LIB SECONDS
//! --threads T` calls one library on one shape for a while (to profile it with `perf record`).
//!
//! Threads: ours reads `GI_NUM_THREADS` once per process, matrixmultiply reads
//! `MATMUL_NUM_THREADS` once per process, faer and gemm run on rayon's global pool
//! (`RAYON_NUM_THREADS`) and are told the degree explicitly (`Par::rayon(T)`,
//! `Parallelism::Rayon(T)`, or the sequential variants at T = 1). The process checks that the
//! environment agrees with `--threads` and refuses to run otherwise, so a row can never be
//! labelled with a thread count it did not use.
//!
//! Correctness: every peer's C is compared with ours over the whole matrix; ours is compared
//! with an f64 dot product at 64 probe entries. A result off by more than the error bound is
//! reported as wrong (the driver then prints no speed for it), so a mistaken call (wrong
//! stride or transpose) cannot produce a fast number.

use grad_instructor::kernels::isa;
use grad_instructor::kernels::matmul::{sgemm, Gemm};
use std::io::{BufRead, Write};
use std::time::{Duration, Instant};

/// The libraries this process times, in column order.
const LIBS: [&str; 4] = ["ours", "faer", "gemm", "matrixmultiply"];

/// Deterministic operand values in [-1, 1), the same formula as peers.py:
/// `((i * 2654435761 + offset) mod 2^32) / 2^32 * 2 - 1`, computed exactly in f64, rounded once.
fn fill(len: usize, offset: u64) -> Vec<f32> {
    (0..len as u64)
        .map(|i| {
            let x = (i.wrapping_mul(2_654_435_761).wrapping_add(offset)) % (1u64 << 32);
            (x as f64 / 4_294_967_296.0 * 2.0 - 1.0) as f32
        })
        .collect()
}

/// Offsets of A and B in [`fill`] (peers.py uses the same).
const A_OFFSET: u64 = 12_345;
const B_OFFSET: u64 = 987_654_321;

/// One product to time: op(A) m×k, op(B) k×n, row-major storage as in `Gemm`.
#[derive(Clone, Copy, Debug)]
struct Shape {
    m: usize,
    k: usize,
    n: usize,
    ta: bool,
    tb: bool,
}

impl Shape {
    fn flops(&self) -> f64 {
        2.0 * (self.m * self.k * self.n) as f64
    }
    /// (row stride, column stride) of op(A) and op(B) in their row-major buffers.
    fn a_strides(&self) -> (usize, usize) {
        if self.ta {
            (1, self.m)
        } else {
            (self.k, 1)
        }
    }
    fn b_strides(&self) -> (usize, usize) {
        if self.tb {
            (1, self.k)
        } else {
            (self.n, 1)
        }
    }
}

/// The issue-14 shapes (the driver sends its own list; this one is for `table`).
const SHAPES: [Shape; 9] = [
    sh(1024, 1024, 1024, false, false),
    sh(256, 256, 256, false, false),
    sh(128, 784, 100, false, false),
    sh(128, 784, 100, false, true),
    sh(64, 784, 100, false, false),
    sh(128, 100, 10, false, false),
    sh(60000, 784, 100, false, false),
    sh(100, 128, 784, true, false),
    sh(128, 100, 784, false, false),
];

const fn sh(m: usize, k: usize, n: usize, ta: bool, tb: bool) -> Shape {
    Shape { m, k, n, ta, tb }
}

struct Operands {
    a: Vec<f32>,
    b: Vec<f32>,
}

fn ours(s: Shape, o: &Operands, c: &mut [f32]) {
    let g = Gemm {
        trans_a: s.ta,
        trans_b: s.tb,
        ..Gemm::new(s.m, s.k, s.n)
    };
    sgemm(&g, &o.a, &o.b, c);
}

fn faer_mm(s: Shape, o: &Operands, c: &mut [f32], threads: usize) {
    use faer::{Accum, MatMut, MatRef, Par};
    let a = if s.ta {
        MatRef::from_row_major_slice(&o.a, s.k, s.m).transpose()
    } else {
        MatRef::from_row_major_slice(&o.a, s.m, s.k)
    };
    let b = if s.tb {
        MatRef::from_row_major_slice(&o.b, s.n, s.k).transpose()
    } else {
        MatRef::from_row_major_slice(&o.b, s.k, s.n)
    };
    let dst = MatMut::from_row_major_slice_mut(c, s.m, s.n);
    let par = if threads > 1 {
        Par::rayon(threads)
    } else {
        Par::Seq
    };
    faer::linalg::matmul::matmul(dst, Accum::Replace, a, b, 1.0f32, par);
}

fn gemm_mm(s: Shape, o: &Operands, c: &mut [f32], threads: usize) {
    let (ars, acs) = s.a_strides();
    let (brs, bcs) = s.b_strides();
    let par = if threads > 1 {
        gemm::Parallelism::Rayon(threads)
    } else {
        gemm::Parallelism::None
    };
    assert_eq!(c.len(), s.m * s.n);
    // SAFETY: the buffers hold m*k, k*n and m*n elements and the strides above address
    // exactly those elements; dst is not read (read_dst = false), so dst = 1 * lhs * rhs.
    unsafe {
        gemm::gemm(
            s.m,
            s.n,
            s.k,
            c.as_mut_ptr(),
            1,
            s.n as isize,
            false,
            o.a.as_ptr(),
            acs as isize,
            ars as isize,
            o.b.as_ptr(),
            bcs as isize,
            brs as isize,
            0.0f32,
            1.0f32,
            false,
            false,
            false,
            par,
        );
    }
}

fn matrixmultiply_mm(s: Shape, o: &Operands, c: &mut [f32]) {
    let (ars, acs) = s.a_strides();
    let (brs, bcs) = s.b_strides();
    assert_eq!(c.len(), s.m * s.n);
    // SAFETY: as for gemm: the strides address exactly the m*k, k*n and m*n elements held.
    unsafe {
        matrixmultiply::sgemm(
            s.m,
            s.k,
            s.n,
            1.0,
            o.a.as_ptr(),
            ars as isize,
            acs as isize,
            o.b.as_ptr(),
            brs as isize,
            bcs as isize,
            0.0,
            c.as_mut_ptr(),
            s.n as isize,
            1,
        );
    }
}

fn call(lib: &str, s: Shape, o: &Operands, c: &mut [f32], threads: usize) {
    match lib {
        "ours" => ours(s, o, c),
        "faer" => faer_mm(s, o, c, threads),
        "gemm" => gemm_mm(s, o, c, threads),
        "matrixmultiply" => matrixmultiply_mm(s, o, c),
        _ => unreachable!("unknown library {lib}"),
    }
}

/// Error bound for comparing two f32 products of operands in [-1, 1). Any summation order
/// (blocked, FMA or not) of a length-k dot product is within `k eps sum_p |a_ip b_pj|` of the
/// exact value (eps = 2^-24; Higham's gamma_k bound), and `sum_p |a_ip b_pj| <= k` here, so two
/// correct results differ by at most `2 k^2 eps` (0.125 at k = 1024, 1.2e-3 at k = 100). A
/// wrong stride, transpose or an unwritten element is off by O(|c|) ~ sqrt(k)/3 >= 3 instead.
fn tolerance(k: usize) -> f64 {
    2.0 * (k * k) as f64 * f64::powi(2.0, -24)
}

/// Largest |x - y| over two equally long slices.
fn max_diff(x: &[f32], y: &[f32]) -> f64 {
    x.iter()
        .zip(y)
        .map(|(&a, &b)| (a as f64 - b as f64).abs())
        .fold(0.0, f64::max)
}

/// CPU time of `clock` (a process or thread CPU-time clock) in seconds.
fn cpu_secs(clock: libc::clockid_t) -> f64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid, writable timespec; both clocks exist on Linux.
    let rc = unsafe { libc::clock_gettime(clock, &mut ts) };
    assert_eq!(rc, 0, "clock_gettime failed");
    ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
}

/// Times `f` (one product of `flops`): warm-up of at least 2 calls and `warm`, then `samples`
/// samples each of enough calls to last `min_sample`. Returns per sample (GFLOP/s over wall
/// time, GFLOP/s over the process's CPU time). At one thread the second is what the core did
/// while it ran, which other load on a shared machine disturbs far less; with more threads it
/// is throughput per busy core (spinning workers included), not speed.
fn time_samples(
    flops: f64,
    samples: usize,
    warm: Duration,
    min_sample: Duration,
    mut f: impl FnMut(),
) -> Vec<(f64, f64)> {
    let start = Instant::now();
    let mut calls = 0u32;
    while calls < 2 || start.elapsed() < warm {
        f();
        calls += 1;
    }
    let one = start.elapsed().as_secs_f64() / calls as f64;
    let iters = ((min_sample.as_secs_f64() / one).ceil() as usize).max(1);
    (0..samples)
        .map(|_| {
            let c0 = cpu_secs(libc::CLOCK_PROCESS_CPUTIME_ID);
            let t = Instant::now();
            for _ in 0..iters {
                f();
            }
            let wall = t.elapsed().as_secs_f64();
            let cpu = (cpu_secs(libc::CLOCK_PROCESS_CPUTIME_ID) - c0).max(1e-9);
            let work = flops * iters as f64 / 1e9;
            (work / wall, work / cpu)
        })
        .collect()
}

struct Config {
    threads: usize,
    samples: usize,
    warm: Duration,
    min_sample: Duration,
}

/// One shape, every library: `(lib, samples, max diff vs ours)` and ours' C.
type Samples = Vec<(f64, f64)>;

fn run_shape(cfg: &Config, s: Shape, libs: &[&str]) -> (Vec<(String, Samples, f64)>, Vec<f32>) {
    let o = Operands {
        a: fill(s.m * s.k, A_OFFSET),
        b: fill(s.k * s.n, B_OFFSET),
    };
    let mut c_ours = vec![0.0f32; s.m * s.n];
    ours(s, &o, &mut c_ours);
    check_ours(s, &o, &c_ours);
    let mut out = Vec::new();
    for &lib in libs {
        let mut c = vec![f32::NAN; s.m * s.n];
        call(lib, s, &o, &mut c, cfg.threads);
        let diff = if lib == "ours" {
            0.0
        } else {
            max_diff(&c, &c_ours)
        };
        // A NaN (unwritten element) must count as wrong too: `max` skips NaN, so test it.
        let diff = if c.iter().any(|v| !v.is_finite()) {
            f64::INFINITY
        } else {
            diff
        };
        let samples = time_samples(s.flops(), cfg.samples, cfg.warm, cfg.min_sample, || {
            call(lib, s, &o, &mut c, cfg.threads)
        });
        out.push((lib.to_string(), samples, diff));
    }
    (out, c_ours)
}

/// Ours against an f64 dot product at 64 spread entries (the crate's tests cover the rest),
/// within the same worst-case bound.
fn check_ours(s: Shape, o: &Operands, c: &[f32]) {
    let (ars, acs) = s.a_strides();
    let (brs, bcs) = s.b_strides();
    for t in 0..64usize {
        let i = (t * 7919) % s.m;
        let j = (t * 104_729) % s.n;
        let exact: f64 = (0..s.k)
            .map(|p| o.a[i * ars + p * acs] as f64 * o.b[p * brs + j * bcs] as f64)
            .sum();
        let got = c[i * s.n + j] as f64;
        if (got - exact).abs() > tolerance(s.k) {
            eprintln!(
                "error: ours is wrong at ({i}, {j}) of {s:?}: {got} vs exact {exact}; refusing to time"
            );
            std::process::exit(1);
        }
    }
}

/// FMA peak of `threads` cores with the crate's register-only FMA probe for the selected ISA:
/// `(wall, cpu)` in GFLOP/s. Each thread runs 10 samples of ~20 ms; `cpu` sums over the
/// threads each one's best flops per second of its own CPU time (CLOCK_THREAD_CPUTIME_ID),
/// which is the cores' capability whatever else runs on the machine; `wall` is the best
/// sample of all threads' flops over wall time, which load lowers.
fn fma_peak(threads: usize) -> Option<(f64, f64)> {
    let isa = isa::selected();
    let (_, flops_per_iter) = isa::fma_peak_probe(isa, 1)?;
    // Calibrate iterations for ~20 ms of CPU time on one thread.
    let c0 = cpu_secs(libc::CLOCK_THREAD_CPUTIME_ID);
    std::hint::black_box(isa::fma_peak_probe(isa, std::hint::black_box(10_000_000)));
    let per_iter = (cpu_secs(libc::CLOCK_THREAD_CPUTIME_ID) - c0) / 1e7;
    let iters = ((0.02 / per_iter) as usize).max(1000);
    let work = (flops_per_iter * iters) as f64 / 1e9;
    let per_thread: Vec<(f64, f64)> = std::thread::scope(|sc| {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                sc.spawn(move || {
                    let (mut best_cpu, mut best_wall) = (0.0f64, 0.0f64);
                    for _ in 0..10 {
                        let c0 = cpu_secs(libc::CLOCK_THREAD_CPUTIME_ID);
                        let w0 = Instant::now();
                        std::hint::black_box(isa::fma_peak_probe(isa, std::hint::black_box(iters)));
                        let cpu = cpu_secs(libc::CLOCK_THREAD_CPUTIME_ID) - c0;
                        best_cpu = best_cpu.max(work / cpu.max(1e-9));
                        best_wall = best_wall.max(work / w0.elapsed().as_secs_f64());
                    }
                    (best_cpu, best_wall)
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("probe thread"))
            .collect()
    });
    let cpu: f64 = per_thread.iter().map(|p| p.0).sum();
    let wall: f64 = per_thread.iter().map(|p| p.1).sum();
    Some((wall, cpu))
}

fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x:.6}")
    } else {
        "null".to_string()
    }
}

fn fail(msg: &str) -> ! {
    eprintln!("error: {msg}");
    std::process::exit(1);
}

/// Reads `--threads`, `--samples`, `--warm-ms`, `--sample-ms`, `--rounds` and checks the
/// thread environment.
fn parse(args: &[String]) -> (Config, usize) {
    let mut cfg = Config {
        threads: 0,
        samples: 5,
        warm: Duration::from_millis(60),
        min_sample: Duration::from_millis(25),
    };
    let mut rounds = 2;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut val = |name: &str| -> usize {
            it.next()
                .and_then(|v| v.parse().ok())
                .unwrap_or_else(|| fail(&format!("{name} needs a non-negative integer")))
        };
        match a.as_str() {
            "--threads" => cfg.threads = val("--threads"),
            "--samples" => cfg.samples = val("--samples").max(1),
            "--warm-ms" => cfg.warm = Duration::from_millis(val("--warm-ms") as u64),
            "--sample-ms" => cfg.min_sample = Duration::from_millis(val("--sample-ms") as u64),
            "--rounds" => rounds = val("--rounds").max(1),
            other => fail(&format!("unknown argument {other}")),
        }
    }
    if cfg.threads == 0 {
        fail("--threads T is required (and GI_NUM_THREADS, RAYON_NUM_THREADS, MATMUL_NUM_THREADS = T)");
    }
    for var in ["GI_NUM_THREADS", "RAYON_NUM_THREADS", "MATMUL_NUM_THREADS"] {
        let v = std::env::var(var).unwrap_or_default();
        if v.trim().parse::<usize>().ok() != Some(cfg.threads) {
            fail(&format!(
                "{var}={v:?} but --threads {}: set all three thread variables to it",
                cfg.threads
            ));
        }
    }
    if isa::num_threads() != cfg.threads || rayon::current_num_threads() != cfg.threads {
        fail("thread pools do not match --threads");
    }
    (cfg, rounds)
}

fn info_json() -> String {
    format!(
        "{{\"isa\": \"{}\", \"threads\": {}, \"rayon_threads\": {}, \"versions\": {{\"faer\": \"0.24\", \"gemm\": \"0.19\", \"matrixmultiply\": \"0.3\"}}}}",
        isa::selected().name(),
        isa::num_threads(),
        rayon::current_num_threads(),
    )
}

/// `serve`: one command per stdin line, one JSON answer per stdout line.
///   `info` | `peak` | `run M K N TA TB LIBS OUT` (TA/TB 0|1, LIBS comma-separated or `all`,
///   OUT a path to write ours' C as raw little-endian f32, or `-`).
fn serve(cfg: &Config) {
    let stdin = std::io::stdin();
    let mut stdout = std::io::stdout();
    for line in stdin.lock().lines() {
        let line = line.unwrap_or_else(|e| fail(&format!("reading stdin: {e}")));
        let w: Vec<&str> = line.split_whitespace().collect();
        let answer = match w.as_slice() {
            [] => continue,
            ["info"] => info_json(),
            ["peak"] => {
                let p = fma_peak(cfg.threads);
                format!(
                    "{{\"peak_gflops\": {}, \"peak_wall_gflops\": {}, \"isa\": \"{}\"}}",
                    p.map_or("null".into(), |p| json_num(p.1)),
                    p.map_or("null".into(), |p| json_num(p.0)),
                    isa::selected().name()
                )
            }
            ["run", m, k, n, ta, tb, libs, out] => {
                let num = |s: &str| -> usize {
                    s.parse()
                        .unwrap_or_else(|_| fail(&format!("bad number {s}")))
                };
                let s = Shape {
                    m: num(m),
                    k: num(k),
                    n: num(n),
                    ta: *ta == "1",
                    tb: *tb == "1",
                };
                if s.m == 0 || s.k == 0 || s.n == 0 {
                    fail("dimensions must be positive");
                }
                let libs: Vec<&str> = if *libs == "all" {
                    LIBS.to_vec()
                } else {
                    libs.split(',').collect()
                };
                if let Some(bad) = libs.iter().find(|l| !LIBS.contains(l)) {
                    fail(&format!("unknown library {bad}"));
                }
                let (res, c) = run_shape(cfg, s, &libs);
                if *out != "-" {
                    let bytes: Vec<u8> = c.iter().flat_map(|v| v.to_le_bytes()).collect();
                    let tmp = format!("{out}.tmp");
                    std::fs::write(&tmp, bytes)
                        .and_then(|_| std::fs::rename(&tmp, out))
                        .unwrap_or_else(|e| fail(&format!("writing {out}: {e}")));
                }
                let parts: Vec<String> = res
                    .iter()
                    .map(|(lib, samples, diff)| {
                        let xs: Vec<String> = samples.iter().map(|x| json_num(x.0)).collect();
                        let cs: Vec<String> = samples.iter().map(|x| json_num(x.1)).collect();
                        format!(
                            "\"{lib}\": {{\"gflops\": [{}], \"cpu_gflops\": [{}], \"max_diff\": {}, \"tol\": {}}}",
                            xs.join(", "),
                            cs.join(", "),
                            json_num(*diff),
                            json_num(tolerance(s.k))
                        )
                    })
                    .collect();
                format!("{{{}}}", parts.join(", "))
            }
            _ => fail(&format!("unknown command {line:?}")),
        };
        writeln!(stdout, "{answer}")
            .and_then(|_| stdout.flush())
            .unwrap_or_else(|e| fail(&format!("writing stdout: {e}")));
    }
}

/// `table`: the Rust libraries alone, interleaved by shape over `rounds` rounds.
fn table(cfg: &Config, rounds: usize) {
    let mut all: Vec<Vec<(Vec<f64>, f64)>> =
        vec![vec![(Vec::new(), 0.0); LIBS.len()]; SHAPES.len()];
    for _ in 0..rounds {
        for (si, &s) in SHAPES.iter().enumerate() {
            let (res, _) = run_shape(cfg, s, &LIBS);
            for (li, (_, samples, diff)) in res.into_iter().enumerate() {
                all[si][li].0.extend(samples.iter().map(|x| x.0));
                all[si][li].1 = all[si][li].1.max(diff);
            }
        }
    }
    let peak = fma_peak(cfg.threads);
    println!(
        "ISA {}, {} thread(s), FMA peak {} GFLOP/s (CPU time); median GFLOP/s (wall) over {rounds} rounds",
        isa::selected().name(),
        cfg.threads,
        peak.map_or("?".into(), |p| format!("{:.1}", p.1))
    );
    println!("| shape | {} | ours ÷ best peer |", LIBS.join(" | "));
    println!("|---|{}---|", "---|".repeat(LIBS.len()));
    for (si, s) in SHAPES.iter().enumerate() {
        let mut cells = Vec::new();
        let mut best_peer = 0.0f64;
        for (li, lib) in LIBS.iter().enumerate() {
            let (samples, diff) = &all[si][li];
            if *diff > tolerance(s.k) {
                cells.push(format!("wrong (diff {diff:.1e})"));
                continue;
            }
            let med = median(samples);
            if *lib != "ours" {
                best_peer = best_peer.max(med);
            }
            cells.push(format!("{med:.1}"));
        }
        let ours_med = median(&all[si][0].0);
        let tag = format!(
            "{}×{}×{}{}{}",
            s.m,
            s.k,
            s.n,
            if s.ta { " ᵀA" } else { "" },
            if s.tb { " ᵀB" } else { "" }
        );
        println!(
            "| {tag} | {} | {:.2} |",
            cells.join(" | "),
            ours_med / best_peer
        );
    }
}

/// `selftest`: the check must flag a wrong call. matrixmultiply on 256³ with B's strides
/// swapped (it reads Bᵀ: in bounds, fast, wrong) must land outside the tolerance.
fn selftest() {
    let s = sh(256, 256, 256, false, false);
    let o = Operands {
        a: fill(s.m * s.k, A_OFFSET),
        b: fill(s.k * s.n, B_OFFSET),
    };
    let mut c_ours = vec![0.0f32; s.m * s.n];
    ours(s, &o, &mut c_ours);
    check_ours(s, &o, &c_ours);
    let mut wrong = vec![0.0f32; s.m * s.n];
    let mut right = vec![0.0f32; s.m * s.n];
    matrixmultiply_mm(s, &o, &mut right);
    matrixmultiply_mm(Shape { tb: true, ..s }, &o, &mut wrong);
    let (dw, dr, tol) = (
        max_diff(&wrong, &c_ours),
        max_diff(&right, &c_ours),
        tolerance(s.k),
    );
    if dw > tol && dr <= tol {
        println!(
            "selftest ok: a B-transposed call differs by {dw:.2} > tolerance {tol:.1e}; the right call by {dr:.1e}"
        );
    } else {
        fail(&format!(
            "selftest failed: wrong call diff {dw}, right call diff {dr}, tolerance {tol}"
        ));
    }
}

/// `spin M K N TA TB LIB SECONDS --threads T`: calls one library on one shape for SECONDS
/// (for `perf record`; prints the calls per second it managed).
fn spin(args: &[String]) {
    let num = |i: usize| -> usize {
        args.get(i)
            .and_then(|s| s.parse().ok())
            .unwrap_or_else(|| fail("spin M K N TA TB LIB SECONDS --threads T"))
    };
    let s = sh(num(0), num(1), num(2), num(3) == 1, num(4) == 1);
    let lib = args.get(5).map_or("ours", |s| s.as_str());
    let secs = num(6) as f64;
    let o = Operands {
        a: fill(s.m * s.k, A_OFFSET),
        b: fill(s.k * s.n, B_OFFSET),
    };
    let mut c = vec![0.0f32; s.m * s.n];
    let start = Instant::now();
    let mut calls = 0u64;
    while start.elapsed().as_secs_f64() < secs {
        call(lib, s, &o, &mut c, isa::num_threads());
        calls += 1;
    }
    let dt = start.elapsed().as_secs_f64();
    println!(
        "{lib} {}x{}x{}: {calls} calls, {:.1} GFLOP/s (wall)",
        s.m,
        s.k,
        s.n,
        s.flops() * calls as f64 / dt / 1e9
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some(cmd) = args.first() else {
        fail("usage: gi-peers serve|table|selftest|peak|spin --threads T [--samples S] [--warm-ms W] [--sample-ms M] [--rounds R]");
    };
    // `spin` takes 7 positional arguments before the options.
    let opts = if cmd == "spin" { 8.min(args.len()) } else { 1 };
    let (cfg, rounds) = parse(&args[opts..]);
    match cmd.as_str() {
        "serve" => serve(&cfg),
        "table" => table(&cfg, rounds),
        "selftest" => selftest(),
        "spin" => spin(&args[1..]),
        "peak" => match fma_peak(cfg.threads) {
            Some(p) => println!("{:.1} {} {:.1}", p.1, isa::selected().name(), p.0),
            None => fail(&format!("no FMA probe for ISA {}", isa::selected().name())),
        },
        other => fail(&format!(
            "unknown command {other} (serve|table|selftest|peak|spin)"
        )),
    }
}
