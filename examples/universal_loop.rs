//! Runs universal-backpropagation steps (784-100-10, batch 64, a fresh ENN) in a loop for a few
//! seconds, for a sampling profiler: where the ENN term of the step goes.
//!
//! ```text
//! cargo build --release --example universal_loop
//! GI_NUM_THREADS=1 perf record -e cpu-clock -F 5000 --call-graph dwarf \
//!     target/release/examples/universal_loop enn
//! perf report --no-children --sort symbol
//! ```
//!
//! Argument: modes separated by commas, run in turn in batches of 10 calls: `step` (default:
//! the whole universal step), `plain` (the plain SGD step), `enn`
//! (the ENN's score and W1 gradient as the step computes it,
//! `EvaluationNet::score_and_w1_gradient`) or `enn-tape` (the same with the ENN on a tape,
//! `score_and_image_gradient_on_tape`), then optionally SECONDS (default 3). Prints each mode's
//! median time per call of its batches (wall time: a profile, not a benchmark; the benchmark
//! is the `universal_step_overhead` test in tests/instructor.rs).

use grad_instructor::instructor::{
    universal_step, weight_image_adjoint_block, weight_images, EvaluationNet, UniversalConfig,
};
use grad_instructor::nn::{Activation, Init, Mlp, Sgd};
use grad_instructor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::process::ExitCode;
use std::time::Instant;

const MODES: [&str; 4] = ["step", "plain", "enn", "enn-tape"];

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let modes: Vec<&str> = args
        .first()
        .map_or("step", String::as_str)
        .split(',')
        .collect();
    if !modes.iter().all(|m| MODES.contains(m)) {
        eprintln!("error: usage: universal_loop MODE[,MODE...] [SECONDS], MODE one of {MODES:?}");
        return ExitCode::FAILURE;
    }
    let secs = match args.get(1).map(|s| s.parse::<f64>()) {
        None => 3.0,
        Some(Ok(s)) if s > 0.0 && s.is_finite() => s,
        Some(_) => {
            eprintln!("error: SECONDS must be a positive number");
            return ExitCode::FAILURE;
        }
    };
    match run(&modes, secs) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}

/// One call of `mode`.
fn call(
    mode: &str,
    mlp: &mut Mlp,
    enn: &EvaluationNet,
    (x, y): (&Tensor, &[u32]),
) -> grad_instructor::Result<()> {
    let cfg = UniversalConfig::default();
    match mode {
        "plain" => {
            let (_, grads) = mlp.loss_and_grads(x, y, 0.0)?;
            Sgd::new(cfg.lr).step(mlp, &grads)?;
        }
        "enn" => {
            std::hint::black_box(enn.score_and_w1_gradient(&mlp.layers[0].weight)?);
        }
        "enn-tape" => {
            let w1 = &mlp.layers[0].weight;
            let image = weight_images(&[w1], &enn.image)?;
            let (s, g) = enn.score_and_image_gradient_on_tape(image)?;
            let g = weight_image_adjoint_block(&g, 100, 784, &enn.image)?;
            std::hint::black_box((s, g));
        }
        _ => {
            universal_step(mlp, enn, x, y, &cfg, 1.0)?;
        }
    }
    Ok(())
}

fn run(modes: &[&str], secs: f64) -> grad_instructor::Result<()> {
    // As in the overhead test: free one large buffer so glibc raises its mmap threshold.
    drop(std::hint::black_box(vec![1u8; 16 << 20]));
    let mut rng = StdRng::seed_from_u64(121);
    let enn = EvaluationNet::new(&mut StdRng::seed_from_u64(122))?;
    let mut mlp = Mlp::new(
        &[784, 100, 10],
        Activation::Relu,
        Init::PytorchDefault,
        &mut StdRng::seed_from_u64(123),
    )?;
    let x = Tensor::uniform(&[64, 784], 0.0, 1.0, &mut rng)?;
    let y: Vec<u32> = (0..64).map(|_| rng.gen_range(0..10)).collect();
    // Batches of 10 calls of each mode in turn, so that every mode sees the same load.
    let mut per_call = vec![Vec::new(); modes.len()];
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        for (mode, times) in modes.iter().zip(&mut per_call) {
            let t = Instant::now();
            for _ in 0..10 {
                call(mode, &mut mlp, &enn, (&x, &y))?;
            }
            times.push(t.elapsed().as_secs_f64() / 10.0);
        }
    }
    for (mode, mut times) in modes.iter().zip(per_call) {
        times.sort_by(f64::total_cmp);
        println!(
            "{mode}: median {:.1} us per call over {} calls",
            times[times.len() / 2] * 1e6,
            times.len() * 10
        );
    }
    Ok(())
}
