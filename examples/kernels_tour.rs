//! A tour of the matmul kernels: the reference triple loop against the packed SIMD sgemm.
//!
//! Prints which instruction set the dispatcher picked (`GI_ISA` overrides it), then for an
//! n×n×n product the median time and GFLOP/s (2·m·n·k flops per product) of the reference and
//! of `sgemm_with` for every ISA this CPU supports, single-threaded and with the thread budget
//! (`GI_NUM_THREADS`), and the largest absolute difference from the reference.
//!
//! Timings on a shared machine are noisy: compare the ratios within one run.
//!
//! Run: `cargo run --release --example kernels_tour [-- N]`   (N defaults to 256)

use grad_instructor::kernels::matmul::{matmul_reference, sgemm_with, Gemm};
use grad_instructor::kernels::{isa, isa::Isa};
use grad_instructor::{Error, Result, Tensor};
use rand::{rngs::StdRng, SeedableRng};
use std::time::Instant;

/// Median wall time in seconds of `reps` runs of `f` (after one warm-up run).
fn median_secs(reps: usize, mut f: impl FnMut()) -> f64 {
    f();
    let mut t: Vec<f64> = (0..reps)
        .map(|_| {
            let start = Instant::now();
            f();
            start.elapsed().as_secs_f64()
        })
        .collect();
    t.sort_by(f64::total_cmp);
    t[reps / 2]
}

fn max_abs_diff(x: &[f32], y: &[f32]) -> f32 {
    x.iter()
        .zip(y)
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}"); // Display: the message says what to fix
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let usage = |_| Error::Usage("kernels_tour [N]".into());
    let n: usize = std::env::args()
        .nth(1)
        .map_or(Ok(256), |s| s.parse().map_err(usage))?;
    let names: Vec<&str> = isa::supported().into_iter().map(Isa::name).collect();
    let selected = isa::selected().name();
    println!("supported ISAs: {names:?}; selected: {selected} (GI_ISA)");
    println!("thread budget: {} (GI_NUM_THREADS)", isa::num_threads());

    let mut rng = StdRng::seed_from_u64(1);
    let a = Tensor::uniform(&[n, n], -1.0, 1.0, &mut rng)?;
    let b = Tensor::uniform(&[n, n], -1.0, 1.0, &mut rng)?;
    let g = Gemm::new(n, n, n);
    let gflop = 2.0 * g.macs() as f64 * 1e-9;
    let reps = 5;

    let mut c_ref = vec![0.0f32; n * n];
    let t_ref = median_secs(reps, || {
        matmul_reference(&g, a.data(), b.data(), &mut c_ref)
    });
    println!("\n{n}x{n}x{n}, median of {reps} runs");
    println!(
        "{:<22} {:>10} {:>9} {:>8} {:>13}",
        "kernel", "ms", "GFLOP/s", "speedup", "max |diff|"
    );
    let row = |name: &str, t: f64, diff: f32| {
        let (ms, rate, speedup) = (t * 1e3, gflop / t, t_ref / t);
        println!("{name:<22} {ms:>10.2} {rate:>9.2} {speedup:>7.1}x {diff:>13.2e}");
    };
    row("reference (f64 acc.)", t_ref, 0.0);

    let mut threads = vec![1];
    if isa::num_threads() > 1 {
        threads.push(isa::num_threads());
    }
    for isa in isa::supported() {
        for &th in &threads {
            let mut c = vec![f32::NAN; n * n]; // beta = 0: C is write-only, NaN must not leak
            let t = median_secs(reps, || sgemm_with(isa, th, &g, a.data(), b.data(), &mut c));
            let name = format!("sgemm {} x{th}", isa.name());
            row(&name, t, max_abs_diff(&c, &c_ref));
        }
    }
    // The reference accumulates in f64, sgemm in f32 (FMA where available): the difference
    // is f32 rounding over a length-n dot product, of order n·ε·max|a·b| ≈ 1e-5 at n = 256.
    Ok(())
}
