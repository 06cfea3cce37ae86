//! How much of W1 the ENN's gradient reaches, per image mode, on real MNIST:
//! `cargo run --release --example enn_coverage -- [--data DIR] [--episodes N]`.
//!
//! For each image configuration (bilinear, area, block-bilinear, and bilinear / area with the
//! inert columns masked) it measures, on the W1 of five fresh 784-100-10 MLPs (PyTorch default
//! init, seeds 100–104):
//! * the fraction of W1's entries with ∂E/∂W1 ≠ 0;
//! * the share of ‖∂E/∂W1‖² on input columns whose pixel variance over MNIST's 60 000
//!   training images is below 1e-3;
//!
//! for three fresh ENNs (seeds 7, 8, 9) and for one ENN trained with that configuration
//! (seed 7, the default rule and settings, `--episodes` episodes, 0 to skip), and prints a
//! Markdown table (mean over the ENN × W1 pairs; min–max in brackets).

use grad_instructor::data::Mnist;
use grad_instructor::explain::{enn_coverage, Coverage};
use grad_instructor::instructor::{
    pixel_variance, train_enn, EnnTrainingConfig, EvaluationNet, ImageMode, InertColumns, TrainRng,
    WeightImageConfig, DEFAULT_INERT_THRESHOLD,
};
use grad_instructor::nn::{Activation, Init, Mlp};
use grad_instructor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::PathBuf;

type AnyError = Box<dyn std::error::Error>;

fn parse_args() -> Result<(Option<PathBuf>, usize), AnyError> {
    let (mut data, mut episodes) = (None, 100usize);
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        let mut value = |name: &str| args.next().ok_or_else(|| format!("{name} needs a value"));
        match a.as_str() {
            "--data" => data = Some(PathBuf::from(value("--data")?)),
            "--episodes" => {
                let v = value("--episodes")?;
                episodes = v
                    .parse()
                    .map_err(|_| format!("--episodes {v:?}: expected a count"))?;
            }
            "--help" | "-h" => {
                println!("usage: enn_coverage [--data DIR] [--episodes N]");
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (see --help)").into()),
        }
    }
    Ok((data, episodes))
}

fn summarize(covs: &[Coverage]) -> String {
    let stat = |f: fn(&Coverage) -> f64| {
        let v: Vec<f64> = covs.iter().map(f).collect();
        let mean = v.iter().sum::<f64>() / v.len() as f64;
        let (lo, hi) = v
            .iter()
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| {
                (l.min(x), h.max(x))
            });
        format!("{:.2}% [{:.2}–{:.2}]", 100.0 * mean, 100.0 * lo, 100.0 * hi)
    };
    format!(
        "{} | {}",
        stat(Coverage::reached_fraction),
        stat(Coverage::inert_share)
    )
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}

fn run() -> Result<(), AnyError> {
    let (data, episodes) = parse_args()?;
    let mnist = Mnist::load(&Mnist::locate(data.as_deref())?)?;
    let train = &mnist.train;
    let variance = pixel_variance(&train.images, train.dim)?;
    let inert = InertColumns::from_variance(&variance, DEFAULT_INERT_THRESHOLD);
    eprintln!(
        "{} of {} input columns have pixel variance < {DEFAULT_INERT_THRESHOLD:e} over the {} training images",
        inert.columns.len(),
        train.dim,
        train.len()
    );
    let w1s: Vec<Tensor> = (100..105u64)
        .map(|s| {
            let mut rng = StdRng::seed_from_u64(s);
            let mlp = Mlp::new(
                &[train.dim, 100, 10],
                Activation::Relu,
                Init::PytorchDefault,
                &mut rng,
            )?;
            Ok(mlp.layers[0].weight.clone())
        })
        .collect::<Result<_, AnyError>>()?;
    // The ENN's training split, as the mnist_enn example makes it (seed 7).
    let (tr, val) = train.split_validation(10000, &mut StdRng::seed_from_u64(7 ^ 0xE1A1))?;
    let cfg = EnnTrainingConfig {
        episodes,
        ..EnnTrainingConfig::default()
    };
    println!(
        "| image | ENN | entries reached (∂E/∂W1 ≠ 0) | share of ‖∂E/∂W1‖² on inert columns |"
    );
    println!("|---|---|---|---|");
    let coverage = |enn: &EvaluationNet| -> Result<Vec<Coverage>, AnyError> {
        w1s.iter()
            .map(|w| Ok(enn_coverage(enn, w, &variance, DEFAULT_INERT_THRESHOLD)?))
            .collect()
    };
    for (name, image) in &image_configs(&inert) {
        let mut fresh = Vec::new();
        for seed in 7..10u64 {
            let mut enn = EvaluationNet::new(&mut StdRng::seed_from_u64(seed))?;
            enn.image = image.clone();
            fresh.extend(coverage(&enn)?);
        }
        println!("| {name} | fresh (seeds 7–9) | {} |", summarize(&fresh));
        if episodes > 0 {
            let mut rng = TrainRng::seed_from_u64(7);
            let mut enn = EvaluationNet::new(&mut rng)?;
            enn.image = image.clone();
            let t = std::time::Instant::now();
            train_enn(&mut enn, &cfg, &tr, &val, &mut rng, |_| {})?;
            eprintln!(
                "[{name}] trained {episodes} episodes in {:.0?}",
                t.elapsed()
            );
            println!(
                "| {name} | trained ({episodes} episodes, seed 7) | {} |",
                summarize(&coverage(&enn)?)
            );
        }
    }
    Ok(())
}

/// The weight-image configurations compared: three resampling modes, and two of them with the
/// inert columns masked.
fn image_configs(inert: &InertColumns) -> [(&'static str, WeightImageConfig); 5] {
    let masked = |mode| WeightImageConfig {
        inert: Some(inert.clone()),
        ..WeightImageConfig::with_mode(mode)
    };
    [
        (
            "bilinear",
            WeightImageConfig::with_mode(ImageMode::Bilinear),
        ),
        ("area", WeightImageConfig::with_mode(ImageMode::Area)),
        (
            "block-bilinear",
            WeightImageConfig::with_mode(ImageMode::BlockBilinear),
        ),
        ("bilinear + inert mask", masked(ImageMode::Bilinear)),
        ("area + inert mask", masked(ImageMode::Area)),
    ]
}
