//! The Grad-CAM protocol: the ENN's evidence on W1 of an untrained, a BP-trained and a
//! Grad-Instructor-trained MLP (the first seed); the lottery-ticket study over the untrained
//! MLPs of several seeds; and the coverage of W1 by each ENN's gradient. Returns numbers and
//! tensors; pictures are drawn by whoever writes the report.

use super::arm::{initial_mlp, Arm, RunResult, TrainConfig};
use super::config::ExplainConfig;
use super::progress::Progress;
use crate::data::Dataset;
use crate::error::Result;
use crate::explain::enn_cam::enn_gradcam;
use crate::explain::lottery::{lottery_study, LotteryCase, LotteryStudy};
use crate::explain::{mean_coverage, CamMethod, CoverageSummary, FinetuneConfig, LotteryConfig};
use crate::instructor::EvaluationNet;
use crate::nn::Mlp;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// One explained MLP state.
pub struct ExplainedState {
    /// E.g. "untrained (PyTorch-default init)", "bp-trained".
    pub name: String,
    /// Its W1.
    pub w1: Tensor,
    /// Grad-CAM heat on W1, mapped to W1's shape through the weight image's adjoint, in
    /// [0, 1] (divided by its maximum).
    pub heat: Tensor,
    /// `|W1 ⊙ ∂E/∂W1|`, divided by its maximum.
    pub saliency: Tensor,
    /// Heat per input (sum over hidden units), one value per W1 column, in [0, 1].
    pub per_input: Tensor,
    /// `|W1 ⊙ ∂E/∂W1|` per input (sum over hidden units), in [0, 1].
    pub saliency_per_input: Tensor,
    /// The ENN's score of W1.
    pub score: f32,
    /// Test accuracy of the MLP.
    pub test_acc: f64,
}

/// What [`explain`] produced.
pub struct Explained {
    /// The explained states, untrained first.
    pub states: Vec<ExplainedState>,
    /// The lottery study over the untrained MLPs of [`ExplainConfig::lottery_mlps`] seeds.
    pub lottery: LotteryStudy,
    /// The lottery test's configuration.
    pub lottery_config: LotteryConfig,
}

/// Coverage of W1 by one ENN's gradient (see [`crate::explain::coverage`]).
#[derive(Clone, Debug, PartialEq)]
pub struct EnnCoverage {
    /// Which ENN ("main", or a prediction-study candidate's name).
    pub enn: String,
    /// Its image configuration ([`crate::instructor::WeightImageConfig::describe`]).
    pub image: String,
    /// Averages over the initial W1s of the measured seeds.
    pub summary: CoverageSummary,
    /// The variance threshold of an inert column.
    pub threshold: f64,
}

/// The coverage of `enn`'s gradient on the initial W1 (the `bp`/`gi` init) of each seed in
/// `seeds`, with inert columns those whose entry of `variance` is below `threshold`.
pub fn coverage_of(
    name: &str,
    enn: &EvaluationNet,
    cfg: &TrainConfig,
    seeds: &[u64],
    variance: &[f64],
    threshold: f64,
) -> Result<EnnCoverage> {
    let mlps = seeds
        .iter()
        .map(|&s| initial_mlp(Arm::Bp, s, cfg))
        .collect::<Result<Vec<_>>>()?;
    let w1s: Vec<&Tensor> = mlps.iter().map(|m| &m.layers[0].weight).collect();
    Ok(EnnCoverage {
        enn: name.to_string(),
        image: enn.image.describe(),
        summary: mean_coverage(enn, &w1s, variance, threshold)?,
        threshold,
    })
}

/// Grad-CAM of the untrained MLP of `seed` and of its `bp` and `gi` runs in `results` (those
/// absent are skipped), each with its test accuracy.
fn explained_states(
    enn: &EvaluationNet,
    seed: u64,
    cfg: &TrainConfig,
    results: &[RunResult],
    test: &Dataset,
) -> Result<Vec<ExplainedState>> {
    let untrained = initial_mlp(Arm::Bp, seed, cfg)?;
    let mut mlps: Vec<(String, &Mlp)> =
        vec![("untrained (PyTorch-default init)".into(), &untrained)];
    for arm in [Arm::Bp, Arm::GradInstructor] {
        if let Some(r) = results
            .iter()
            .find(|r| r.record.arm == arm && r.record.seed == seed)
        {
            mlps.push((format!("{}-trained", arm.name()), &r.mlp));
        }
    }
    let mut states = Vec::new();
    for (name, mlp) in mlps {
        let w1 = &mlp.layers[0].weight;
        let cam = enn_gradcam(enn, w1, CamMethod::GradCam)?;
        states.push(ExplainedState {
            name,
            w1: w1.clone(),
            heat: cam.heat,
            saliency: cam.saliency,
            per_input: cam.heat_per_input,
            saliency_per_input: cam.saliency_per_input,
            score: cam.score,
            test_acc: mlp.accuracy(&test.images, &test.labels)?,
        });
    }
    Ok(states)
}

/// The lottery study's configuration: the explain settings with the run's learning rate and
/// batch for fine-tuning.
fn lottery_config(cfg: &TrainConfig, explain_cfg: &ExplainConfig) -> LotteryConfig {
    LotteryConfig {
        percents: explain_cfg.lottery_percents.clone(),
        n_random: explain_cfg.lottery_random_masks,
        finetune: FinetuneConfig {
            steps: explain_cfg.finetune_steps,
            lr: cfg.lr,
            batch: cfg.batch,
        },
    }
}

/// The untrained MLPs of seeds `seed, seed + 1, …` (`n` of them, at least one), each with the
/// ENN's heat over its W1 and, for the fresh-ENN control, that of an untrained ENN of the same
/// architecture and image.
fn lottery_cases(
    enn: &EvaluationNet,
    seed: u64,
    cfg: &TrainConfig,
    n: u64,
) -> Result<Vec<LotteryCase>> {
    // The fresh-ENN control: an untrained ENN of the same architecture and image.
    let mut fresh = EvaluationNet::new(&mut StdRng::seed_from_u64(seed ^ 0xF4E5))?;
    fresh.image = enn.image.clone();
    (0..n.max(1))
        .map(|k| {
            let s = seed + k;
            let mlp = initial_mlp(Arm::Bp, s, cfg)?;
            let w1 = &mlp.layers[0].weight;
            let heat = enn_gradcam(enn, w1, CamMethod::GradCam)?.heat;
            let fresh_heat = Some(enn_gradcam(&fresh, w1, CamMethod::GradCam)?.heat);
            Ok(LotteryCase {
                seed: s,
                mlp,
                heat,
                fresh_heat,
            })
        })
        .collect()
}

/// Runs the protocol for the seed `seed`: the untrained MLP of that seed and the `bp`/`gi`
/// runs of it found in `results` (those absent are skipped); the lottery study on the
/// untrained MLPs of seeds `seed, seed + 1, …` (`explain_cfg.lottery_mlps` of them, at least
/// one), on up to `jobs` threads, advancing `progress` once per lottery MLP.
#[allow(clippy::too_many_arguments)]
pub fn explain(
    enn: &EvaluationNet,
    seed: u64,
    cfg: &TrainConfig,
    explain_cfg: &ExplainConfig,
    results: &[RunResult],
    train: &Dataset,
    test: &Dataset,
    jobs: usize,
    progress: &dyn Progress,
) -> Result<Explained> {
    let states = explained_states(enn, seed, cfg, results, test)?;
    let lottery_config = lottery_config(cfg, explain_cfg);
    let cases = lottery_cases(enn, seed, cfg, explain_cfg.lottery_mlps)?;
    progress.start("lottery-ticket study (MLPs)", cases.len() as u64);
    let lottery = lottery_study(
        &cases,
        &lottery_config,
        train,
        test,
        seed ^ 0x1077,
        jobs,
        &|s| progress.advance(1, &format!("[lottery] MLP seed {s} done")),
    );
    progress.finish();
    let lottery = lottery?;
    Ok(Explained {
        states,
        lottery,
        lottery_config,
    })
}
