//! The arms of the comparison and one (arm, seed) training run.
//!
//! Arms, all at the same epoch budget and from the same seeds:
//! 1. `bp`: conventional backprop, PyTorch-default init;
//! 2. `l1`: backprop + `λ Σ|W|` on the weight matrices;
//! 3. `he`: He (Kaiming normal) init;
//! 4. `gi`: Grad-Instructor — the `bp` init and data order, trained with universal
//!    backpropagation under a trained ENN.
//!
//! For a given seed, arms share the data order (the shuffling RNG is seeded from the seed
//! alone), and `bp`, `l1` and `gi` share the initial weights, so per-seed differences are
//! paired comparisons.

use super::divergence::{self, Divergence};
use crate::data::{Batcher, Dataset};
use crate::error::{Error, Result};
use crate::explain::gradient_norms;
use crate::instructor::{at_step, universal_step, EvaluationNet, UniversalConfig};
use crate::nn::{Activation, Init, Mlp, Sgd};
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use serde::{Deserialize, Serialize};
use std::time::Instant;

/// One arm of the comparison.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Arm {
    /// Conventional backprop, PyTorch-default init.
    Bp,
    /// Backprop + L1 regularization.
    L1,
    /// He initialization.
    He,
    /// Grad-Instructor: universal backprop with a trained ENN.
    #[serde(rename = "gi")]
    GradInstructor,
}

impl Arm {
    /// Every arm, in the order of the report.
    pub const ALL: [Arm; 4] = [Arm::Bp, Arm::L1, Arm::He, Arm::GradInstructor];

    /// Short name used on the command line and in files.
    pub fn name(self) -> &'static str {
        match self {
            Arm::Bp => "bp",
            Arm::L1 => "l1",
            Arm::He => "he",
            Arm::GradInstructor => "gi",
        }
    }

    /// Parses `bp|l1|he|gi`.
    pub fn parse(s: &str) -> Result<Arm> {
        match s.trim() {
            "bp" => Ok(Arm::Bp),
            "l1" => Ok(Arm::L1),
            "he" => Ok(Arm::He),
            "gi" | "grad-instructor" => Ok(Arm::GradInstructor),
            other => Err(Error::Usage(format!(
                "unknown arm {other:?} (bp, l1, he, gi)"
            ))),
        }
    }

    /// A longer description for tables.
    pub fn description(self) -> &'static str {
        match self {
            Arm::Bp => "backprop (PyTorch-default init)",
            Arm::L1 => "backprop + L1",
            Arm::He => "He init",
            Arm::GradInstructor => "Grad-Instructor (universal backprop + ENN)",
        }
    }
}

/// Hyperparameters of one training run (defaults: our reconstruction; the paper does not
/// state them).
#[derive(Clone, Debug, PartialEq)]
pub struct TrainConfig {
    /// Layer widths, e.g. `[784, 100, 10]`.
    pub sizes: Vec<usize>,
    /// Hidden nonlinearity.
    pub activation: Activation,
    /// Passes over the training set.
    pub epochs: usize,
    /// SGD learning rate.
    pub lr: f32,
    /// Mini-batch size.
    pub batch: usize,
    /// L1 strength for the `l1` arm.
    pub l1_lambda: f32,
    /// ENN term weight for the `gi` arm.
    pub le: f32,
    /// Record the gradient-term norms every this many steps (`gi` arm); 0 disables.
    pub log_every: usize,
}

impl Default for TrainConfig {
    fn default() -> Self {
        TrainConfig {
            sizes: vec![784, 100, 10],
            activation: Activation::Relu,
            epochs: 3,
            lr: 0.01,
            batch: 64,
            l1_lambda: 1e-4,
            le: crate::instructor::DEFAULT_LE,
            log_every: 10,
        }
    }
}

/// Norms of the two terms of a universal-backprop update at one step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradNormRecord {
    /// Optimizer step.
    pub step: usize,
    /// `‖lr · ∂L/∂W1‖`.
    pub loss_term: f32,
    /// `‖le · ∂E/∂W1‖`.
    pub enn_term: f32,
    /// The ENN's score of W1 at that step.
    pub score: f32,
    /// `‖∂z/∂W1‖` of the ENN's logit z (E = σ(z)) at the same W1: the score's gradient
    /// without the sigmoid's slope E(1 − E), which saturates as E nears 0 or 1.
    pub logit_grad: f32,
    /// `‖∂E/∂W1‖ = E(1 − E) ‖∂z/∂W1‖` at the same W1 (the ENN term without λ_E).
    pub score_grad: f32,
}

/// The numbers of one (arm, seed) run: what summaries, the paired tests and `runs.csv` need,
/// and what [`read_runs`](super::output::read_runs) reads back (one type for both, so the
/// field list is written once).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Which arm.
    pub arm: Arm,
    /// Which seed.
    pub seed: u64,
    /// Test-set accuracy in [0, 1].
    pub test_acc: f64,
    /// Training-set accuracy in [0, 1] (on the whole training set used).
    pub train_acc: f64,
    /// Mean training loss over the last epoch.
    pub last_epoch_loss: f64,
    /// Seconds spent training (not evaluating).
    pub train_secs: f64,
    /// Optimizer steps taken.
    pub steps: usize,
    /// Where and why the run diverged ([`divergence`]'s rule), if it did.
    pub divergence: Option<Divergence>,
}

impl RunRecord {
    /// Train accuracy minus test accuracy.
    pub fn gap(&self) -> f64 {
        self.train_acc - self.test_acc
    }
}

/// Outcome of one (arm, seed) run: its numbers and what only the run in memory has.
#[derive(Clone, Debug)]
pub struct RunResult {
    /// The run's numbers.
    pub record: RunRecord,
    /// Gradient-term norms (the `gi` arm only).
    pub grad_norms: Vec<GradNormRecord>,
    /// The trained network.
    pub mlp: Mlp,
}

/// Seed of the data-order RNG for a run seed (distinct stream from the init RNG).
fn shuffle_seed(seed: u64) -> u64 {
    seed ^ 0x5DEE_CE66_D1CE_5EED
}

/// The initial network of an arm for a seed. `bp`, `l1` and `gi` draw identical weights.
pub fn initial_mlp(arm: Arm, seed: u64, cfg: &TrainConfig) -> Result<Mlp> {
    let init = if arm == Arm::He {
        Init::He
    } else {
        Init::PytorchDefault
    };
    Mlp::new(
        &cfg.sizes,
        cfg.activation,
        init,
        &mut StdRng::seed_from_u64(seed),
    )
}

/// Refuses what [`run_arm`] cannot train (a zero batch or epoch count, data of another width
/// than the network's input, the `gi` arm without an ENN); returns the ENN the arm uses.
fn checked_enn<'a>(
    arm: Arm,
    cfg: &TrainConfig,
    train: &Dataset,
    enn: Option<&'a EvaluationNet>,
) -> Result<Option<&'a EvaluationNet>> {
    if cfg.batch == 0 || cfg.epochs == 0 {
        return Err(Error::invalid(
            "run_arm",
            "batch and epochs must be positive",
        ));
    }
    if train.dim != cfg.sizes[0] {
        return Err(Error::shape(
            "run_arm",
            format!("{} inputs per image", cfg.sizes[0]),
            format!("{}", train.dim),
        ));
    }
    match (arm, enn) {
        (Arm::GradInstructor, None) => {
            Err(Error::invalid("run_arm", "the gi arm needs a trained ENN"))
        }
        (_, e) => Ok(e),
    }
}

/// One run's network and optimizer state between steps.
struct Training<'a> {
    arm: Arm,
    seed: u64,
    cfg: &'a TrainConfig,
    enn: Option<&'a EvaluationNet>,
    mlp: Mlp,
    sgd: Sgd,
    universal: UniversalConfig,
    /// The L1 weight of the plain step (the `l1` arm's, else 0).
    l1: f32,
    /// Steps taken so far.
    step: usize,
    grad_norms: Vec<GradNormRecord>,
}

impl Training<'_> {
    /// One optimizer step on a batch: universal backprop for `gi` (logging the gradient
    /// terms' norms every `log_every` steps), SGD otherwise. Returns the batch loss.
    fn step(&mut self, x: &Tensor, labels: &[u32]) -> Result<f32> {
        let at = |e| {
            at_step(
                e,
                &format!("{} seed {}", self.arm.name(), self.seed),
                self.step,
            )
        };
        let loss = match (self.arm, self.enn) {
            (Arm::GradInstructor, Some(enn)) => {
                let logged = self.cfg.log_every > 0 && self.step.is_multiple_of(self.cfg.log_every);
                // Read-only (the ENN is frozen), before the step moves W1.
                let norms = if logged {
                    Some(gradient_norms(enn, &self.mlp.layers[0].weight)?)
                } else {
                    None
                };
                let stats = universal_step(&mut self.mlp, enn, x, labels, &self.universal, 1.0)
                    .map_err(at)?;
                if let Some(n) = norms {
                    self.grad_norms.push(GradNormRecord {
                        step: self.step,
                        loss_term: stats.loss_term_norm,
                        enn_term: stats.enn_term_norm,
                        score: stats.score,
                        logit_grad: n.logit_grad as f32,
                        score_grad: n.score_grad as f32,
                    });
                }
                stats.loss
            }
            _ => self
                .mlp
                .train_step(&mut self.sgd, x, labels, self.l1)
                .map_err(at)?,
        };
        self.step += 1;
        Ok(loss)
    }
}

/// Trains one arm from one seed and evaluates it. `enn` is required by the `gi` arm.
/// `progress(epoch, mean_loss)` is called after each epoch. A run that diverges by the rule of
/// [`divergence`] is a result with [`RunRecord::divergence`] set, not an
/// error; a NaN or infinite loss at a step is an [`Error::NonFinite`].
pub fn run_arm(
    arm: Arm,
    seed: u64,
    cfg: &TrainConfig,
    train: &Dataset,
    test: &Dataset,
    enn: Option<&EvaluationNet>,
    mut progress: impl FnMut(usize, f64),
) -> Result<RunResult> {
    let enn = checked_enn(arm, cfg, train, enn)?;
    let mut t = Training {
        arm,
        seed,
        cfg,
        enn,
        mlp: initial_mlp(arm, seed, cfg)?,
        sgd: Sgd::new(cfg.lr),
        universal: UniversalConfig {
            lr: cfg.lr,
            le: cfg.le,
            l1: 0.0,
        },
        l1: if arm == Arm::L1 { cfg.l1_lambda } else { 0.0 },
        step: 0,
        grad_norms: Vec::new(),
    };
    let mut order_rng = StdRng::seed_from_u64(shuffle_seed(seed));
    let mut batcher = Batcher::new(train.len(), cfg.batch, train.dim);
    let mut epoch_losses = Vec::with_capacity(cfg.epochs);
    let started = Instant::now();
    for epoch in 0..cfg.epochs {
        batcher.shuffle(&mut order_rng);
        let mut loss_sum = 0.0f64;
        let mut batches = 0usize;
        while let Some(batch) = batcher.next_batch(train) {
            loss_sum += t.step(batch.tensor, batch.labels)? as f64;
            batches += 1;
        }
        let mean = loss_sum / batches.max(1) as f64;
        epoch_losses.push(mean);
        progress(epoch, mean);
    }
    let train_secs = started.elapsed().as_secs_f64();
    let test_acc = t.mlp.accuracy(&test.images, &test.labels)?;
    let train_acc = t.mlp.accuracy(&train.images, &train.labels)?;
    let classes = cfg.sizes.last().copied().unwrap_or(1);
    Ok(RunResult {
        record: RunRecord {
            arm,
            seed,
            test_acc,
            train_acc,
            last_epoch_loss: epoch_losses.last().copied().unwrap_or(0.0),
            train_secs,
            steps: t.step,
            divergence: divergence::detect(&epoch_losses, test_acc, classes),
        },
        grad_norms: t.grad_norms,
        mlp: t.mlp,
    })
}
