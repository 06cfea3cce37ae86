//! conv2d forward + both backward products, and resize forward + adjoint.
//!
//! Ids: `conv2d_fwd_bwd/<n>x<c_in>x<h>x<w>_k<c_out>x<kh>x<kw>` (one iteration = forward,
//! input gradient and weight gradient; throughput = 3 * 2 * macs flops) and
//! `resize/<h>x<w>_s<scale>` (bilinear forward + adjoint; nearest and area as
//! `resize/<mode>_<h>x<w>_s<scale>`).
//! PyTorch baseline for the same conv shapes: benches/compare/conv_torch.py.
//! `GI_CONV_CPU_TABLE=1` first prints ms per conv iteration in thread CPU time (best of 5
//! spans of ~0.3 s), comparable with `conv_torch.py --clock cpu` on a busy machine, and each
//! product alone with `ConvGemm::Auto` (direct kernels where routed), `ConvGemm::Im2col` and
//! the direct kernel called directly with the im2col rounding it reproduces on the selected
//! ISA (`dir`; NaN where none applies).

use criterion::{black_box, BenchmarkId, Criterion, Throughput};
use grad_instructor::kernels::conv::{
    conv2d_backward_input_with, conv2d_backward_weight_with, conv2d_forward_with,
    direct_backward_input_rounding, direct_backward_weight_rounding, direct_forward_rounding,
    Conv2dGeometry, ConvGemm,
};
use grad_instructor::kernels::conv_direct::{
    conv2d_backward_input_direct_with, conv2d_backward_weight_direct_with,
    conv2d_forward_direct_with,
};
use grad_instructor::kernels::isa;
use grad_instructor::kernels::resize::{resize, resize_adjoint, ResizeGeometry, ResizeMode};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::time::Duration;

/// (n, c_in, h, w, c_out): the ENN's two convs, then the MNIST CNN's two; all 3x3, pad 1.
const CONV_SHAPES: [(usize, usize, usize, usize, usize); 4] = [
    (1, 1, 15, 117, 16),
    (1, 16, 7, 58, 32),
    (32, 1, 28, 28, 16),
    (32, 16, 14, 14, 32),
];

fn uniform(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

fn geometry((n, c_in, h, w, c_out): (usize, usize, usize, usize, usize)) -> Conv2dGeometry {
    Conv2dGeometry {
        n,
        c_in,
        h,
        w,
        c_out,
        kh: 3,
        kw: 3,
        stride: 1,
        pad: 1,
    }
}

/// CPU time of the calling thread in seconds (Linux schedstat), or None elsewhere.
fn thread_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    Some(stat.split_whitespace().next()?.parse::<f64>().ok()? * 1e-9)
}

/// Best (of 5 spans of ~0.3 s of `macs` multiply-adds) thread-CPU ms of one call of `f`.
fn cpu_ms(macs: usize, mut f: impl FnMut()) -> Option<f64> {
    f();
    // ~2.4e10 flops a span: ~0.3 s at this crate's conv speeds. Shorter spans are coarse: the
    // schedstat clock of the running thread advanced in 4 ms scheduler ticks on the Sapphire
    // Rapids machine, so the ~40 ms spans used before quantized the figures by ~10%.
    let reps = (3e8 / (2.0 * macs as f64)).max(1.0) as usize * 80;
    let mut best = f64::INFINITY;
    for _ in 0..5 {
        let t0 = thread_cpu_seconds()?;
        (0..reps).for_each(|_| f());
        best = best.min((thread_cpu_seconds()? - t0) / reps as f64);
    }
    Some(best * 1e3)
}

/// With `GI_CONV_CPU_TABLE=1`: ms per forward + both backward products (`Auto`, the
/// dispatching path), then each product alone with `Auto` and with `Im2col` (the im2col
/// path the direct kernels replace where they give its bits), in thread CPU time.
fn print_cpu_time_table(rng: &mut StdRng) {
    println!(
        "{:<24}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}{:>10}",
        "conv2d (cpu time, ms)",
        "fwd+bwd",
        "fwd",
        "fwd i2c",
        "fwd dir",
        "dx",
        "dx i2c",
        "dx dir",
        "dw",
        "dw i2c",
        "dw dir"
    );
    let isa = isa::selected();
    for shape in CONV_SHAPES {
        let g = geometry(shape);
        let (x, wt) = (uniform(rng, g.input_len()), uniform(rng, g.weight_len()));
        let (bias, dy) = (uniform(rng, g.c_out), uniform(rng, g.output_len()));
        let (mut y, mut dx, mut dw) = (
            vec![0.0; g.output_len()],
            vec![0.0; g.input_len()],
            vec![0.0; g.weight_len()],
        );
        let m = g.macs();
        let fwd = |e: ConvGemm, y: &mut [f32]| {
            conv2d_forward_with(e, &g, black_box(&x), &wt, Some(&bias), y)
        };
        let bwd = |e: ConvGemm, dx: &mut [f32]| {
            conv2d_backward_input_with(e, &g, black_box(&dy), &wt, dx)
        };
        let all = cpu_ms(3 * m, || {
            fwd(ConvGemm::Auto, &mut y);
            bwd(ConvGemm::Auto, &mut dx);
            conv2d_backward_weight_with(ConvGemm::Auto, &g, &x, &dy, &mut dw);
        });
        // The direct kernels called directly (whether or not `Auto` routes to them here),
        // with the im2col rounding they reproduce on this ISA; NaN where none applies.
        let fwd_dir = direct_forward_rounding(isa, &g).map_or(Some(f64::NAN), |r| {
            cpu_ms(m, || {
                conv2d_forward_direct_with(isa, r, &g, black_box(&x), &wt, Some(&bias), &mut y)
            })
        });
        let dx_dir = direct_backward_input_rounding(isa, &g).map_or(Some(f64::NAN), |r| {
            cpu_ms(m, || {
                conv2d_backward_input_direct_with(isa, r, &g, black_box(&dy), &wt, &mut dx)
            })
        });
        let dw_dir = direct_backward_weight_rounding(isa, &g).map_or(Some(f64::NAN), |chunk| {
            cpu_ms(m, || {
                conv2d_backward_weight_direct_with(isa, chunk, &g, black_box(&x), &dy, &mut dw)
            })
        });
        let cols = [
            all,
            cpu_ms(m, || fwd(ConvGemm::Auto, &mut y)),
            cpu_ms(m, || fwd(ConvGemm::Im2col, &mut y)),
            fwd_dir,
            cpu_ms(m, || bwd(ConvGemm::Auto, &mut dx)),
            cpu_ms(m, || bwd(ConvGemm::Im2col, &mut dx)),
            dx_dir,
            cpu_ms(m, || {
                conv2d_backward_weight_with(ConvGemm::Auto, &g, &x, &dy, &mut dw)
            }),
            cpu_ms(m, || {
                conv2d_backward_weight_with(ConvGemm::Im2col, &g, &x, &dy, &mut dw)
            }),
            dw_dir,
        ];
        let (n, c_in, h, w, c_out) = shape;
        let mut line = format!("{:<24}", format!("{n}x{c_in}x{h}x{w}_k{c_out}x3x3"));
        for c in cols {
            let Some(ms) = c else {
                return;
            };
            line += &format!("{ms:>10.4}");
        }
        println!("{line}");
    }
}

/// Registers the conv2d and resize benchmarks.
pub fn bench(c: &mut Criterion) {
    let mut rng = StdRng::seed_from_u64(1);
    if std::env::var("GI_CONV_CPU_TABLE").is_ok_and(|v| v == "1") {
        print_cpu_time_table(&mut rng);
    }
    // `conv2d_fwd_bwd` is the dispatching path (ConvGemm::Auto); the `_sgemm` and `_direct`
    // groups force one product engine each, for comparison within the same run.
    for (group_name, engine) in [
        ("conv2d_fwd_bwd", ConvGemm::Auto),
        ("conv2d_fwd_bwd_sgemm", ConvGemm::Sgemm),
        ("conv2d_fwd_bwd_direct", ConvGemm::Direct),
    ] {
        let mut group = c.benchmark_group(group_name);
        group
            .measurement_time(Duration::from_secs(2))
            .warm_up_time(Duration::from_millis(500))
            .sample_size(20);
        for shape in CONV_SHAPES {
            let (n, c_in, h, w, c_out) = shape;
            let g = geometry(shape);
            let x = uniform(&mut rng, g.input_len());
            let wt = uniform(&mut rng, g.weight_len());
            let bias = uniform(&mut rng, c_out);
            let dy = uniform(&mut rng, g.output_len());
            let mut y = vec![0.0; g.output_len()];
            let mut dx = vec![0.0; g.input_len()];
            let mut dw = vec![0.0; g.weight_len()];
            group.throughput(Throughput::Elements(3 * 2 * g.macs() as u64));
            let id = format!("{n}x{c_in}x{h}x{w}_k{c_out}x{}x{}", g.kh, g.kw);
            group.bench_function(BenchmarkId::from_parameter(id), |b| {
                b.iter(|| {
                    conv2d_forward_with(engine, &g, black_box(&x), &wt, Some(&bias), &mut y);
                    conv2d_backward_input_with(engine, &g, black_box(&dy), &wt, &mut dx);
                    conv2d_backward_weight_with(engine, &g, &x, &dy, &mut dw);
                    black_box((&y, &dx, &dw));
                })
            });
        }
        group.finish();
    }

    let mut group = c.benchmark_group("resize");
    group
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500))
        .sample_size(20);
    // The instructor's weight image: 100 hidden units x 784 inputs, scaled by 0.15.
    let (h, w, scale) = (100, 784, 0.15);
    let g = ResizeGeometry::by_scale(1, h, w, scale);
    let x = uniform(&mut rng, g.input_len());
    let dy = uniform(&mut rng, g.output_len());
    let mut y = vec![0.0; g.output_len()];
    let mut dx = vec![0.0; g.input_len()];
    for (mode, name) in [
        (ResizeMode::Bilinear, "bilinear"),
        (ResizeMode::Nearest, "nearest"),
        (ResizeMode::Area, "area"),
    ] {
        // Bilinear (the ENN's mode) carries the plain id; the other modes are prefixed.
        let id = match mode {
            ResizeMode::Bilinear => format!("{h}x{w}_s{scale}"),
            _ => format!("{name}_{h}x{w}_s{scale}"),
        };
        group.bench_function(BenchmarkId::from_parameter(id), |b| {
            b.iter(|| {
                resize(mode, &g, black_box(&x), &mut y);
                resize_adjoint(mode, &g, black_box(&dy), &mut dx);
                black_box((&y, &dx));
            })
        });
    }
    group.finish();
}
