//! Calls one 3×3 pad-1 conv product in a loop for a few seconds, for a sampling profiler:
//! which share of a direct conv kernel goes to its tiles, padding, re-laying and stores.
//!
//! ```text
//! cargo build --release --example conv_loop
//! perf record -e cpu-clock -F 5000 --call-graph dwarf target/release/examples/conv_loop 32 16 14 14 32 fwd
//! perf report --no-children --sort symbol
//! ```
//!
//! Arguments: `N C_IN H W C_OUT [fwd|dx|dw|all] [SECONDS]` (`all`: forward, input and weight
//! gradient, as `cargo bench --bench kernels -- conv2d_fwd_bwd` times them). `ConvGemm::Auto`
//! on the dispatched ISA (`GI_ISA` overrides), one thread. Prints the median and the minimum
//! over spans of ~0.25 s of the thread-CPU ms per call, with GFLOP/s and as shares of the
//! ISA's FMA peak measured right after (`kernels::isa::fma_peak_probe`, in CPU time too). A
//! profile and a quick A/B check, not the benchmark, which is `GI_CONV_CPU_TABLE=1 cargo
//! bench --bench kernels`.

use grad_instructor::kernels::conv::{
    conv2d_backward_input, conv2d_backward_weight, conv2d_forward, Conv2dGeometry,
};
use grad_instructor::kernels::isa;
use std::process::ExitCode;
use std::time::Instant;

/// CPU time of the calling thread in seconds (Linux schedstat, nanoseconds; the wall clock
/// elsewhere): what the core did for this thread, which other jobs' load does not inflate.
fn cpu_seconds() -> f64 {
    static START: std::sync::OnceLock<Instant> = std::sync::OnceLock::new();
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok();
    match stat.and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok()) {
        Some(ns) => ns * 1e-9,
        None => START.get_or_init(Instant::now).elapsed().as_secs_f64(),
    }
}

/// `(geometry, product index into fwd/dx/dw/all, seconds)` from the command line.
fn parse(args: &[String]) -> Result<(Conv2dGeometry, usize, f64), String> {
    let dims: Vec<usize> = args
        .iter()
        .take(5)
        .filter_map(|s| s.parse::<usize>().ok().filter(|&d| d > 0))
        .collect();
    let &[n, c_in, h, w, c_out] = dims.as_slice() else {
        return Err("usage: conv_loop N C_IN H W C_OUT [fwd|dx|dw|all] [SECONDS]".into());
    };
    let what = args.get(5).map_or("all", |s| s.as_str());
    let Some(products) = PRODUCTS.iter().position(|&p| p == what) else {
        return Err("the product is one of fwd, dx, dw, all".into());
    };
    let secs = match args.get(6).map(|s| s.parse::<f64>()) {
        None => 3.0,
        Some(Ok(s)) if s > 0.0 && s.is_finite() => s,
        Some(_) => return Err("SECONDS must be a positive number".into()),
    };
    let (kh, kw, stride, pad) = (3, 3, 1, 1);
    let g = Conv2dGeometry {
        n,
        c_in,
        h,
        w,
        c_out,
        kh,
        kw,
        stride,
        pad,
    };
    Ok((g, products, secs))
}

const PRODUCTS: [&str; 4] = ["fwd", "dx", "dw", "all"];

/// Per-call thread-CPU seconds of `call` over spans of ~0.25 s for `secs` (the schedstat
/// clock advances in scheduler ticks, 4 ms here), sorted, and the number of calls.
fn time_spans(secs: f64, mut call: impl FnMut()) -> (Vec<f64>, usize) {
    let mut per_call = Vec::new();
    let (start, mut calls) = (Instant::now(), 0);
    while start.elapsed().as_secs_f64() < secs {
        let (t, span) = (cpu_seconds(), Instant::now());
        let mut reps = 0;
        while span.elapsed().as_secs_f64() < 0.25 {
            call();
            reps += 1;
        }
        per_call.push((cpu_seconds() - t) / reps as f64);
        calls += reps;
    }
    per_call.sort_by(f64::total_cmp);
    (per_call, calls)
}

/// The selected ISA's register-only FMA peak in flop/s, best of 3 samples of ~0.2 s of thread
/// CPU time, or None where it has no probe.
fn fma_peak() -> Option<(&'static str, f64)> {
    let isa = isa::selected();
    let (_, per_iter) = isa::fma_peak_probe(isa, 1)?;
    let iters = 50_000_000;
    let probe = (0..3)
        .map(|_| {
            let t = cpu_seconds();
            std::hint::black_box(isa::fma_peak_probe(isa, std::hint::black_box(iters)));
            cpu_seconds() - t
        })
        .fold(f64::INFINITY, f64::min);
    Some((isa.name(), (per_iter * iters) as f64 / probe))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (g, products, secs) = match parse(&args) {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::FAILURE;
        }
    };
    // Deterministic operands in [-0.5, 0.5): the values do not matter for the timing.
    let fill = |len: usize, mult: usize| -> Vec<f32> {
        (0..len)
            .map(|i| (i * mult % 1000) as f32 / 1000.0 - 0.5)
            .collect()
    };
    let (x, wt) = (fill(g.input_len(), 7919), fill(g.weight_len(), 104_729));
    let (bias, dy) = (fill(g.c_out, 31), fill(g.output_len(), 613));
    let (mut y, mut dx, mut dw) = (
        vec![0.0f32; g.output_len()],
        vec![0.0f32; g.input_len()],
        vec![0.0f32; g.weight_len()],
    );
    let (per_call, calls) = time_spans(secs, || {
        if products == 0 || products == 3 {
            conv2d_forward(&g, &x, &wt, Some(&bias), &mut y);
        }
        if products == 1 || products == 3 {
            conv2d_backward_input(&g, &dy, &wt, &mut dx);
        }
        if products == 2 || products == 3 {
            conv2d_backward_weight(&g, &x, &dy, &mut dw);
        }
    });
    let (median, best) = (per_call[per_call.len() / 2], per_call[0]);
    let flops = 2.0 * g.macs() as f64 * if products == 3 { 3.0 } else { 1.0 };
    let Conv2dGeometry {
        n,
        c_in,
        h,
        w,
        c_out,
        ..
    } = g;
    println!(
        "{n}x{c_in}x{h}x{w}_k{c_out}x3x3 {}: median {:.4} ms ({:.1} GFLOP/s), min {:.4} ms \
         over {calls} calls",
        PRODUCTS[products],
        median * 1e3,
        flops / median / 1e9,
        best * 1e3,
    );
    // The peak right after, to read the figure against on a machine whose speed varies with
    // its neighbours' load.
    if let Some((name, peak)) = fma_peak() {
        println!(
            "  {name} FMA peak {:.1} GFLOP/s: median {:.0} %, min {:.0} % of it",
            peak / 1e9,
            100.0 * flops / median / peak,
            100.0 * flops / best / peak
        );
    }
    ExitCode::SUCCESS
}
