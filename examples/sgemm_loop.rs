//! Calls one sgemm shape in a loop for a few seconds, for a sampling profiler: which share of
//! a product goes to the microkernel, packing and the C update.
//!
//! ```text
//! cargo build --release --example sgemm_loop
//! perf record -e cpu-clock -F 5000 target/release/examples/sgemm_loop 128 784 100
//! perf report --no-children --sort symbol
//! ```
//!
//! Arguments: `M K N [ta] [tb] [SECONDS]` (`ta`: A stored k×m and used transposed, as a
//! weight gradient does; `tb`: B stored n×k and used transposed, as `nn::Linear`'s forward does). The ISA is the dispatched one (`GI_ISA` overrides), one
//! thread unless `GI_NUM_THREADS` says otherwise. Prints the median and the best GFLOP/s of
//! batches of 10 calls (wall time) and the GFLOP/s over the whole run's thread CPU time (on a
//! shared machine the best batch and the CPU time are the steadier figures). A profile and a
//! quick A/B tool, not a benchmark; the benchmarks are `cargo bench` and `benches/compare/`.

use grad_instructor::kernels::matmul::{sgemm, Gemm};
use std::process::ExitCode;
use std::time::Instant;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dim = |i: usize| {
        args.get(i)
            .and_then(|s| s.parse::<usize>().ok())
            .filter(|&d| d > 0)
    };
    let (Some(m), Some(k), Some(n)) = (dim(0), dim(1), dim(2)) else {
        eprintln!("error: usage: sgemm_loop M K N [ta] [tb] [SECONDS] (positive integers)");
        return ExitCode::FAILURE;
    };
    // Optional `ta` / `tb` flags after the dimensions, in that order.
    let mut rest = 3;
    let mut flag = |name: &str| {
        let on = args.get(rest).is_some_and(|s| s == name);
        rest += usize::from(on);
        on
    };
    let (trans_a, trans_b) = (flag("ta"), flag("tb"));
    let secs = match args.get(rest).map(|s| s.parse::<f64>()) {
        None => 3.0,
        Some(Ok(s)) if s > 0.0 && s.is_finite() => s,
        Some(_) => {
            eprintln!("error: SECONDS must be a positive number");
            return ExitCode::FAILURE;
        }
    };
    let g = Gemm {
        trans_a,
        trans_b,
        ..Gemm::new(m, k, n)
    };
    // Deterministic operands in [-0.5, 0.5): the values do not matter for the timing.
    let fill = |len: usize, mult: usize| -> Vec<f32> {
        (0..len)
            .map(|i| (i * mult % 1000) as f32 / 1000.0 - 0.5)
            .collect()
    };
    let (a, b) = (fill(m * k, 7919), fill(k * n, 104_729));
    let mut c = vec![0.0f32; m * n];
    let mut per_call = Vec::new();
    let cpu0 = thread_cpu_seconds();
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        let t = Instant::now();
        for _ in 0..10 {
            sgemm(&g, &a, &b, &mut c);
        }
        per_call.push(t.elapsed().as_secs_f64() / 10.0);
    }
    let cpu = thread_cpu_seconds().zip(cpu0).map(|(t1, t0)| t1 - t0);
    per_call.sort_by(f64::total_cmp);
    let gflops = |secs: f64| 2.0 * (m * n * k) as f64 / secs / 1e9;
    let calls = per_call.len() * 10;
    println!(
        "{m}x{k}x{n}{}{}: median {:.1} GFLOP/s over {calls} calls, best batch {:.1}, CPU time {}",
        if trans_a { " (A transposed)" } else { "" },
        if trans_b { " (B transposed)" } else { "" },
        gflops(per_call[per_call.len() / 2]),
        gflops(per_call[0]),
        cpu.map_or("-".to_string(), |t| format!(
            "{:.1}",
            gflops(t / calls as f64)
        ))
    );
    ExitCode::SUCCESS
}

/// CPU time of the calling thread in seconds (Linux `/proc/thread-self/schedstat`), or
/// `None` where that is unavailable.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(stat.split_whitespace().next()?.parse::<f64>().ok()? * 1e-9)
}
