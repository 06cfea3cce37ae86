//! sgemm throughput: ids `sgemm/<isa>/<threads>t/<m>x<k>x<n>[_ta|_tb]` with
//! `Throughput::Elements(2*m*n*k)`, so criterion's "elements/s" are flop/s. `_ta` / `_tb` mark
//! a transposed A / B as the training loop passes them. Baselines in the same run:
//! `sgemm/matrixmultiply/1t/...` and the FMA peak `peak/fma_<isa>` (independent FMA chains in
//! registers). OpenBLAS through numpy: benches/compare/sgemm_numpy.py.
//! `GI_SGEMM_CPU_TABLE=1` first prints single-thread figures measured in thread CPU time,
//! which a busy shared machine disturbs far less than wall time, for the ISA `GI_ISA` selects;
//! `GI_SGEMM_TILE_TABLE=1` the same for every AVX2 tile shape (6×16, 5×16, 4×16, 8×8, 4×24)
//! on the small-batch shapes; `GI_SGEMM_THREAD_TABLE=1` wall-time medians of 1 vs 2 threads
//! (interleaved, many samples) under the thread policy.

use criterion::{black_box, BenchmarkId, Criterion, SamplingMode, Throughput};
use grad_instructor::kernels::isa::{self, Isa};
use grad_instructor::kernels::matmul::{sgemm_with, sgemm_with_tile, Gemm};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// (m, k, n, trans_a, trans_b) of the MLP products: forward X W^T (W stored 100×784),
/// backward dW = dY^T X and dX = dY W, for both layers; plus plain-layout versions to compare
/// with numpy/matrixmultiply, and the whole training set through layer 1.
const MLP_SHAPES: &[(usize, usize, usize, bool, bool)] = &[
    (64, 784, 100, false, false),
    (64, 784, 100, false, true),
    (128, 784, 100, false, false),
    (128, 784, 100, false, true),
    (100, 128, 784, true, false),
    (128, 100, 784, false, false),
    (128, 100, 10, false, false),
    (128, 100, 10, false, true),
    (10, 128, 100, true, false),
    (128, 10, 100, false, false),
    (60000, 784, 100, false, false),
];
const SQUARES: &[usize] = &[64, 128, 256, 512, 1024];

fn shape_id(m: usize, k: usize, n: usize, trans_a: bool, trans_b: bool) -> String {
    let tag = match (trans_a, trans_b) {
        (false, false) => "",
        (true, false) => "_ta",
        (false, true) => "_tb",
        (true, true) => "_tab",
    };
    format!("{m}x{k}x{n}{tag}")
}

fn operands(m: usize, k: usize, n: usize) -> (Vec<f32>, Vec<f32>, Vec<f32>) {
    let mut rng = StdRng::seed_from_u64(1);
    let mut v = |len: usize| -> Vec<f32> { (0..len).map(|_| rng.gen_range(-1.0..1.0)).collect() };
    (v(m * k), v(k * n), v(m * n))
}

/// Benches one (isa, threads, shape) under `sgemm/`.
fn bench_ours(
    c: &mut Criterion,
    isa: Isa,
    threads: usize,
    shape: (usize, usize, usize, bool, bool),
) {
    let (m, k, n, trans_a, trans_b) = shape;
    let g = Gemm {
        trans_a,
        trans_b,
        ..Gemm::new(m, k, n)
    };
    let (a, b, mut out) = operands(m, k, n);
    let mut group = c.benchmark_group(format!("sgemm/{}/{threads}t", isa.name()));
    configure(&mut group, g.macs());
    group.throughput(Throughput::Elements(2 * g.macs() as u64));
    group.bench_function(
        BenchmarkId::from_parameter(shape_id(m, k, n, trans_a, trans_b)),
        |bch| bch.iter(|| sgemm_with(isa, threads, &g, black_box(&a), black_box(&b), &mut out)),
    );
    group.finish();
}

/// Short runs (the machine is shared); flat sampling for the multi-GFLOP shape so its ten
/// samples take one iteration each.
fn configure(
    group: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    macs: usize,
) {
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(500));
    group.measurement_time(Duration::from_secs(2));
    if macs > 1 << 30 {
        group.sampling_mode(SamplingMode::Flat);
    }
}

fn bench_matrixmultiply(c: &mut Criterion, m: usize, k: usize, n: usize) {
    let (a, b, mut out) = operands(m, k, n);
    let mut group = c.benchmark_group("sgemm/matrixmultiply/1t");
    configure(&mut group, m * n * k);
    group.throughput(Throughput::Elements(2 * (m * n * k) as u64));
    let id = BenchmarkId::from_parameter(shape_id(m, k, n, false, false));
    group.bench_function(id, |bch| {
        bch.iter(|| matrixmultiply_nn(m, k, n, black_box(&a), black_box(&b), &mut out))
    });
    group.finish();
}

/// CPU time of the calling thread in seconds (Linux `/proc/thread-self/schedstat`, whose first
/// field is nanoseconds spent running), or None elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(stat.split_whitespace().next()?.parse::<f64>().ok()? * 1e-9)
}

/// Best-of-3 GFLOP/s of `f` (which performs `flops` per call) measured in this thread's CPU
/// time: on a shared machine, time spent descheduled does not count, so single-thread figures
/// are comparable across runs and with the FMA peak measured the same way. schedstat is only
/// brought up to date at scheduler ticks (a few ms), so each timing spans ~0.3 s of work.
fn cpu_gflops(flops: f64, mut f: impl FnMut()) -> Option<f64> {
    f();
    let reps = ((3e10 / flops) as usize).max(1);
    let mut best = 0.0f64;
    for _ in 0..3 {
        let t0 = thread_cpu_seconds()?;
        for _ in 0..reps {
            f();
        }
        let dt = thread_cpu_seconds()? - t0;
        best = best.max(flops * reps as f64 / dt.max(1e-9) / 1e9);
    }
    Some(best)
}

/// With `GI_SGEMM_CPU_TABLE=1`: prints single-thread GFLOP/s measured in thread CPU time
/// (peak, ours for the best ISA, matrixmultiply) before the criterion runs.
fn print_cpu_time_table() {
    let best = isa::selected();
    if let Some((_, flops)) = isa::fma_peak_probe(best, 1) {
        let iters = 100_000_000;
        let peak = cpu_gflops((flops * iters) as f64, || {
            black_box(isa::fma_peak_probe(best, black_box(iters)));
        });
        if let Some(peak) = peak {
            println!("cpu-time peak/fma_{}: {peak:.1} GFLOP/s", best.name());
        }
    }
    println!(
        "{:<22}{:>12}{:>16}",
        "shape (1 thread)",
        best.name(),
        "matrixmultiply"
    );
    let squares = SQUARES.iter().map(|&s| (s, s, s, false, false));
    for (m, k, n, trans_a, trans_b) in squares.chain(MLP_SHAPES.iter().copied()) {
        let g = Gemm {
            trans_a,
            trans_b,
            ..Gemm::new(m, k, n)
        };
        let (a, b, mut out) = operands(m, k, n);
        let flops = 2.0 * g.macs() as f64;
        let ours = cpu_gflops(flops, || sgemm_with(best, 1, &g, &a, &b, &mut out));
        let mm = if trans_a || trans_b {
            None
        } else {
            cpu_gflops(flops, || matrixmultiply_nn(m, k, n, &a, &b, &mut out))
        };
        let fmt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.1}"));
        let id = shape_id(m, k, n, trans_a, trans_b);
        println!("{id:<22}{:>12}{:>16}", fmt(ours), fmt(mm));
    }
}

/// Small-batch shapes (and two squares for contrast) for the tile and thread tables.
const SMALL_BATCH: &[(usize, usize, usize, bool, bool)] = &[
    (32, 784, 100, false, true),
    (64, 784, 100, false, true),
    (128, 784, 100, false, false),
    (100, 64, 784, true, false),
    (64, 100, 10, false, true),
    (256, 256, 256, false, false),
    (1024, 1024, 1024, false, false),
];

/// With `GI_SGEMM_TILE_TABLE=1`: single-thread CPU-time GFLOP/s of every AVX2 tile shape.
fn print_tile_table() {
    const TILES: [(usize, usize); 5] = [(6, 16), (5, 16), (4, 16), (8, 8), (4, 24)];
    if !Isa::Avx2Fma.is_supported() {
        return;
    }
    print!("{:<22}", "avx2 tile (1 thread)");
    TILES
        .iter()
        .for_each(|(mr, nr)| print!("{:>9}", format!("{mr}x{nr}")));
    println!();
    for &(m, k, n, trans_a, trans_b) in SMALL_BATCH {
        let g = Gemm {
            trans_a,
            trans_b,
            ..Gemm::new(m, k, n)
        };
        let (a, b, mut out) = operands(m, k, n);
        print!("{:<22}", shape_id(m, k, n, trans_a, trans_b));
        for tile in TILES {
            let r = cpu_gflops(2.0 * g.macs() as f64, || {
                sgemm_with_tile(Isa::Avx2Fma, 1, tile, &g, &a, &b, &mut out);
            });
            print!("{:>9}", r.map_or("-".to_string(), |v| format!("{v:.1}")));
        }
        println!();
    }
}

/// With `GI_SGEMM_THREAD_TABLE=1`: median wall time of 1 and 2 threads, interleaved call by
/// call so that load from other processes hits both alike.
fn print_thread_table() {
    let isa = isa::selected();
    println!(
        "{:<22}{:>10}{:>10}{:>8}",
        format!("{} threads", isa.name()),
        "1t GF/s",
        "2t GF/s",
        "2t/1t"
    );
    for &(m, k, n, trans_a, trans_b) in SMALL_BATCH {
        let g = Gemm {
            trans_a,
            trans_b,
            ..Gemm::new(m, k, n)
        };
        let (a, b, mut out) = operands(m, k, n);
        let reps = ((4e9 / (2.0 * g.macs() as f64)) as usize).clamp(15, 4000);
        let (mut one, mut two) = (Vec::new(), Vec::new());
        for _ in 0..reps {
            for (threads, times) in [(1, &mut one), (2, &mut two)] {
                let t = std::time::Instant::now();
                sgemm_with(isa, threads, &g, &a, &b, &mut out);
                times.push(t.elapsed().as_secs_f64());
            }
        }
        let median = |v: &mut Vec<f64>| {
            v.sort_by(f64::total_cmp);
            v[v.len() / 2]
        };
        let (t1, t2) = (median(&mut one), median(&mut two));
        let gf = |t: f64| 2.0 * g.macs() as f64 / t / 1e9;
        let id = shape_id(m, k, n, trans_a, trans_b);
        println!("{id:<22}{:>10.1}{:>10.1}{:>8.2}", gf(t1), gf(t2), t1 / t2);
    }
}

/// `out = a * b` (row-major m×k times k×n) with matrixmultiply.
fn matrixmultiply_nn(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], out: &mut [f32]) {
    assert!(a.len() == m * k && b.len() == k * n && out.len() == m * n);
    // SAFETY: the lengths were just checked; a is m×k, b is k×n, out is m×n, all row-major
    // with the strides given (row stride = columns, column stride 1).
    unsafe {
        matrixmultiply::sgemm(
            m,
            k,
            n,
            1.0,
            a.as_ptr(),
            k as isize,
            1,
            b.as_ptr(),
            n as isize,
            1,
            0.0,
            out.as_mut_ptr(),
            n as isize,
            1,
        )
    }
}

fn bench_peak(c: &mut Criterion) {
    const ITERS: usize = 100_000;
    let mut group = c.benchmark_group("peak");
    group.sample_size(10);
    group.warm_up_time(Duration::from_millis(300));
    group.measurement_time(Duration::from_secs(1));
    for isa in [Isa::Avx512, Isa::Avx2Fma] {
        if let Some((_, flops)) = isa::fma_peak_probe(isa, 1) {
            group.throughput(Throughput::Elements((flops * ITERS) as u64));
            group.bench_function(format!("fma_{}", isa.name()), |bch| {
                bch.iter(|| isa::fma_peak_probe(isa, black_box(ITERS)))
            });
        }
    }
    group.finish();
}

/// sgemm benchmarks: peak, ours (best ISA, 1 and all threads; portable for contrast), matrixmultiply.
pub fn bench(c: &mut Criterion) {
    let best = isa::best();
    let all = isa::num_threads();
    let thread_counts: Vec<usize> = if all > 1 { vec![1, all] } else { vec![1] };
    let flag = |name: &str| std::env::var(name).is_ok_and(|v| v == "1");
    if flag("GI_SGEMM_CPU_TABLE") {
        print_cpu_time_table();
    }
    if flag("GI_SGEMM_TILE_TABLE") {
        print_tile_table();
    }
    if flag("GI_SGEMM_THREAD_TABLE") {
        print_thread_table();
    }
    bench_peak(c);
    for &threads in &thread_counts {
        for &s in SQUARES {
            bench_ours(c, best, threads, (s, s, s, false, false));
        }
        for &shape in MLP_SHAPES {
            bench_ours(c, best, threads, shape);
        }
    }
    for s in [256, 1024] {
        bench_ours(c, Isa::Portable, 1, (s, s, s, false, false));
    }
    for &s in SQUARES {
        bench_matrixmultiply(c, s, s, s);
    }
    for &(m, k, n, trans_a, trans_b) in MLP_SHAPES {
        if !trans_a && !trans_b {
            bench_matrixmultiply(c, m, k, n);
        }
    }
}
