//! The Grad-CAM protocol: the ENN's evidence on W1 of an untrained, a BP-trained and a
//! Grad-Instructor-trained MLP (the first seed), and the lottery-ticket test on the untrained
//! one. Returns numbers and tensors; pictures are drawn by whoever writes the report.

use super::arm::{initial_mlp, Arm, RunResult, TrainConfig};
use super::config::ExplainConfig;
use crate::data::Dataset;
use crate::error::Result;
use crate::explain::enn_cam::enn_gradcam;
use crate::explain::{lottery_test, CamMethod, FinetuneConfig, LotteryConfig, LotteryRow};
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
    /// [0, 1].
    pub heat: Tensor,
    /// Heat per input (sum over hidden units), one value per W1 column.
    pub per_input: Tensor,
    /// The ENN's score of W1.
    pub score: f32,
    /// Test accuracy of the MLP.
    pub test_acc: f64,
}

/// What [`explain`] produced.
pub struct Explained {
    /// The explained states, untrained first.
    pub states: Vec<ExplainedState>,
    /// The lottery table.
    pub lottery: Vec<LotteryRow>,
    /// The lottery test's configuration.
    pub lottery_config: LotteryConfig,
}

/// Runs the protocol for the seed `seed`: the untrained MLP of that seed and the `bp`/`gi`
/// runs of it found in `results` (those absent are skipped).
pub fn explain(
    enn: &EvaluationNet,
    seed: u64,
    cfg: &TrainConfig,
    explain_cfg: &ExplainConfig,
    results: &[RunResult],
    train: &Dataset,
    test: &Dataset,
) -> Result<Explained> {
    let untrained = initial_mlp(Arm::Bp, seed, cfg)?;
    let mut mlps: Vec<(String, &Mlp)> =
        vec![("untrained (PyTorch-default init)".into(), &untrained)];
    for arm in [Arm::Bp, Arm::GradInstructor] {
        if let Some(r) = results.iter().find(|r| r.arm == arm && r.seed == seed) {
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
            per_input: cam.heat_per_input,
            score: cam.score,
            test_acc: mlp.accuracy(&test.images, &test.labels)?,
        });
    }
    let lottery_config = LotteryConfig {
        percents: explain_cfg.lottery_percents.clone(),
        n_random: explain_cfg.lottery_random_masks,
        finetune: FinetuneConfig {
            steps: explain_cfg.finetune_steps,
            lr: cfg.lr,
            batch: cfg.batch,
        },
    };
    let lottery = lottery_test(
        &untrained,
        &states[0].heat,
        &lottery_config,
        train,
        test,
        &mut StdRng::seed_from_u64(seed ^ 0x1077),
    )?;
    Ok(Explained {
        states,
        lottery,
        lottery_config,
    })
}
