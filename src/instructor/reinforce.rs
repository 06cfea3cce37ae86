//! Training the ENN from episodes of MLP training: REINFORCE (the default described by the
//! paper's abstract) or Monte-Carlo value regression ([`value`](super::value)).
//!
//! ## An episode (our reconstruction; every choice is a [`ReinforceConfig`] field)
//!
//! 1. A fresh 784-`hidden`-10 ReLU MLP with its own seed, initialized with PyTorch's default
//!    bound times a factor drawn from U(`init_scale_range`), so that the ENN sees states of
//!    varied quality.
//! 2. `steps_per_episode` steps on random mini-batches of the training slice, each a
//!    [universal-backpropagation step](super::universal) under the *current* ENN.
//! 3. Every `decide_every` steps (from step 0) a decision instead: K candidate next states,
//!    the k-th made by `branch_steps` plain SGD steps at learning rate η·m_k on shared batches
//!    (m = `lr_multipliers`); the ENN scores all K in one batched forward pass; the policy is
//!    `π(k) = softmax_k(E(cand_k)/τ)`; k is sampled with the seeded RNG and training continues
//!    from that candidate.
//! 4. Reward R = the final MLP's accuracy on the validation slice (never the test set).
//!
//! ## The REINFORCE update
//!
//! `θ ← θ + η_E (R − b) Σ_t ∇θ log π(k_t)`, b the running mean of previous rewards (the first
//! episode has b = R, so no update). On the tape this is the minimization of the surrogate
//! `(R − b) · Σ_t CE(E(cand_t)/τ, k_t)` with Adam, since `CE = −log π(k_t)`. With
//! `normalize_advantage`, `R − b` is divided by the running standard deviation of R.
//!
//! ## What we measured (MNIST, and why the defaults are what they are)
//!
//! 50 000 training / 10 000 validation images split from MNIST's training set (the reward
//! uses the first 5 000 validation images; the test set is never touched), 100 episodes of
//! 200 steps, batch 64, η = 0.01, ENN seed 7. Held-out: 20 fresh episodes (seed 999) with the
//! trained ENN frozen; "paired ΔR" runs those same 20 episodes with λ_E = 0 and reports the
//! mean ± sd of R(λ_E) − R(0). Wall time on the shared 2-core machine (load average 6–9; the
//! same runs need ~25–30 s of CPU time, which is their wall time on an idle machine).
//!
//! | rule | branch | τ | λ_E | time | π(×4) first→last quarter | held-out r(E_final, R) | paired ΔR |
//! |---|---|---|---|---|---|---|---|
//! | REINFORCE | 1 | 0.05 | 0.25 | 59 s | 0.250 → 0.250 | −0.67 | — |
//! | REINFORCE | 1 | 1e-4 | 0.05 | 51 s | 0.250 → 0.251 | −0.82 | +0.0004 ± 0.0014 |
//! | REINFORCE | 10 | 2e-3 | 0.05 | 88 s | 0.254 → 0.259 | −0.78 | −0.0001 ± 0.0040 |
//! | REINFORCE | 10 | 1e-4 | 0.05 | 61 s | 0.333 → 0.507 | −0.72 | −0.0048 ± 0.0051 |
//! | REINFORCE | 10 | 1e-4 | 0.01 | 90 s | 0.272 → 0.343 | +0.91 | +0.0000 ± 0.0004 |
//! | value | 1 | 0.05 | 0.05 | 85 s | (uniform) | +0.89 | −0.0010 ± 0.0018 |
//! | value | 10 | 1e-4 | 0.05 | 52 s | 0.196 → 0.273 | +0.89 | −0.0089 ± 0.0082 |
//! | value (defaults) | 10 | 1e-4 | 0.01 | 92–95 s | 0.255 → 0.210 | +0.89 | −0.0031 ± 0.0052 |
//! | value (defaults), ENN seed 8 | 10 | 1e-4 | 0.01 | 32 s | 0.481 → 0.660 | +0.89 | −0.0011 ± 0.0025 |
//! | value, antialiased image | 10 | 1e-4 | 0.01 | 75 s | 0.233 → 0.411 | +0.84 | −0.0010 ± 0.0028 |
//! | value, antialiased image | 10 | 1e-4 | 0.05 | 42 s | 0.229 → 0.310 | +0.83 | −0.0097 ± 0.0087 |
//!
//! * With single-step candidates the K next states differ so little that their scores differ
//!   by ~1e-4: at τ = 0.05 (or even 1e-4) the policy is uniform and REINFORCE has nothing to
//!   learn from. Ten-step branches and τ = 1e-4 make the choice matter: the policy then learns
//!   to prefer the largest learning rate (the better choice at η = 0.01 over 200 steps).
//! * REINFORCE only shapes *differences* of E between the candidates of one decision (the
//!   softmax ignores a common shift), so E's level across states is never tied to R: its
//!   held-out correlation with R came out −0.67 … −0.82 in five runs and +0.91 in one (the
//!   fresh ENN's output happens to move with W1's magnitude, which follows the init scale,
//!   which drives R; the sign is an accident of initialization). The value rule regresses E
//!   onto R directly and reaches r ≈ 0.89 on held-out episodes in every run — largely by
//!   reading the magnitude of W1 (r(E_start, R) is as high as r(E_final, R)).
//! * The value rule therefore trains the better evaluator and is the default; REINFORCE stays
//!   available (`EnnRule::Reinforce`) with the settings under which it learns at all.
//! * Neither ENN made universal backprop better than plain SGD over a 200-step episode; at
//!   λ_E = 0.01 the value ENN costs 0.1–0.3 points, the REINFORCE ENN changes nothing, and
//!   λ_E = 0.05 costs ~1 point with or without the antialiased image. Our reading: the value
//!   ENN is a correlational predictor (W1's magnitude reveals the init scale, which predicts
//!   R), so ascending its gradient inflates the features it reads without making the MLP
//!   better.
//! * Running the same configuration twice gave identical logs (determinism per seed).

use super::checkpoint::{self, TrainState};
use super::enn::EvaluationNet;
use super::universal::{at_step, universal_step, UniversalConfig};
use super::value::{value_update, ReplayBuffer, ValueConfig};
use super::weight_image::weight_images;
use crate::autodiff::Tape;
use crate::error::{Error, Result};
use crate::nn::{Activation, Adam, Init, Mlp};
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::path::Path;

/// Which rule trains the ENN.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EnnRule {
    /// Policy gradient on the candidate choices.
    Reinforce,
    /// Regression of E(state) onto the episode's reward.
    Value,
}

impl EnnRule {
    /// Parses `reinforce|value`.
    pub fn parse(s: &str) -> Result<EnnRule> {
        match s {
            "reinforce" => Ok(EnnRule::Reinforce),
            "value" => Ok(EnnRule::Value),
            _ => Err(Error::Usage(format!(
                "--enn-rule must be reinforce or value, got {s:?}"
            ))),
        }
    }
}

/// Hyperparameters of ENN training. Defaults are our reconstruction (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct ReinforceConfig {
    /// The update rule.
    pub rule: EnnRule,
    /// Number of episodes.
    pub episodes: usize,
    /// MLP steps per episode (decision branches count their steps).
    pub steps_per_episode: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// The MLP's universal-backprop step (η, λ_E, L1).
    pub universal: UniversalConfig,
    /// A decision every this many steps (0: never).
    pub decide_every: usize,
    /// Learning-rate multipliers of the K candidates.
    pub lr_multipliers: Vec<f32>,
    /// Plain SGD steps in each candidate branch (1: the next step only).
    pub branch_steps: usize,
    /// Softmax temperature τ of the policy over ENN scores in [0, 1].
    pub tau: f32,
    /// Adam learning rate of the ENN.
    pub enn_lr: f32,
    /// Hidden width of the episode MLP.
    pub hidden: usize,
    /// Range of the factor on PyTorch's default init bound.
    pub init_scale_range: (f32, f32),
    /// Validation examples used for the reward (the first ones of the slice; 0: all).
    pub val_limit: usize,
    /// Divide the advantage R − b by the running standard deviation of R.
    pub normalize_advantage: bool,
    /// The value rule's settings.
    pub value: ValueConfig,
    /// With a checkpoint folder ([`train_enn_resumable`]): a checkpoint after every this many
    /// episodes and after the last (0: only after the last).
    pub checkpoint_every: usize,
}

impl Default for ReinforceConfig {
    /// Our reconstruction, tuned on MNIST (see the module docs, "What we measured"): the value
    /// rule, 100 episodes of 200 steps, K = 4 branches of 10 steps, τ = 1e-4.
    fn default() -> Self {
        ReinforceConfig {
            rule: EnnRule::Value,
            episodes: 100,
            steps_per_episode: 200,
            batch: 64,
            universal: UniversalConfig::default(),
            decide_every: 50,
            lr_multipliers: vec![0.5, 1.0, 2.0, 4.0],
            branch_steps: 10,
            tau: 1e-4,
            enn_lr: 1e-3,
            hidden: 100,
            init_scale_range: (0.5, 3.0),
            val_limit: 5000,
            normalize_advantage: true,
            value: ValueConfig::default(),
            checkpoint_every: 10,
        }
    }
}

/// Training and validation slices for ENN training (row-major images in [0, 1]).
#[derive(Clone, Copy, Debug)]
pub struct EnnData<'a> {
    /// Training images, n × dim.
    pub train_images: &'a [f32],
    /// Training labels, n.
    pub train_labels: &'a [u32],
    /// Validation images (the reward), m × dim.
    pub val_images: &'a [f32],
    /// Validation labels, m.
    pub val_labels: &'a [u32],
    /// Input width (784 for MNIST).
    pub dim: usize,
}

impl<'a> EnnData<'a> {
    /// Checks that the slices agree with each other.
    pub fn new(
        train_images: &'a [f32],
        train_labels: &'a [u32],
        val_images: &'a [f32],
        val_labels: &'a [u32],
        dim: usize,
    ) -> Result<Self> {
        let d = EnnData {
            train_images,
            train_labels,
            val_images,
            val_labels,
            dim,
        };
        d.validate()?;
        Ok(d)
    }

    fn validate(&self) -> Result<()> {
        let ok = self.dim > 0
            && !self.train_labels.is_empty()
            && !self.val_labels.is_empty()
            && self.train_images.len() == self.train_labels.len() * self.dim
            && self.val_images.len() == self.val_labels.len() * self.dim;
        if !ok {
            return Err(Error::shape(
                "EnnData",
                format!("non-empty train/val with images = labels x {}", self.dim),
                format!(
                    "train {} values / {} labels, val {} values / {} labels",
                    self.train_images.len(),
                    self.train_labels.len(),
                    self.val_images.len(),
                    self.val_labels.len()
                ),
            ));
        }
        Ok(())
    }

    fn classes(&self) -> usize {
        let max = self
            .train_labels
            .iter()
            .chain(self.val_labels)
            .copied()
            .max()
            .unwrap_or(0);
        (max as usize + 1).max(2)
    }

    /// A mini-batch of `batch` examples drawn uniformly (with replacement).
    fn sample_batch(&self, batch: usize, rng: &mut impl Rng) -> Result<(Tensor, Vec<u32>)> {
        let n = self.train_labels.len();
        let mut x = Vec::with_capacity(batch * self.dim);
        let mut y = Vec::with_capacity(batch);
        for _ in 0..batch {
            let i = rng.gen_range(0..n);
            x.extend_from_slice(&self.train_images[i * self.dim..(i + 1) * self.dim]);
            y.push(self.train_labels[i]);
        }
        Ok((Tensor::from_vec(x, &[batch, self.dim])?, y))
    }
}

/// What one episode did and what the ENN learned from it.
#[derive(Clone, Debug, PartialEq)]
pub struct EpisodeLog {
    /// Episode index, from 0.
    pub episode: usize,
    /// Seed of the episode's MLP and batches.
    pub seed: u64,
    /// Factor on PyTorch's default init bound.
    pub init_scale: f32,
    /// Validation accuracy of the final MLP.
    pub reward: f32,
    /// Baseline b used in this episode's update.
    pub baseline: f32,
    /// Mean ENN score over the episode's universal steps.
    pub mean_score: f32,
    /// ENN score of the initial state (ENN before this episode's update).
    pub start_score: f32,
    /// ENN score of the final state (ENN before this episode's update): the prediction of R.
    pub final_score: f32,
    /// Chosen candidate index per decision.
    pub chosen: Vec<usize>,
    /// Chosen learning-rate multiplier per decision.
    pub chosen_multipliers: Vec<f32>,
    /// Mean policy probability of the largest multiplier at the decisions.
    pub p_largest: f32,
    /// The ENN's training loss this episode (REINFORCE surrogate or value MSE).
    pub enn_loss: f32,
    /// Last mini-batch loss of the MLP.
    pub mlp_loss: f32,
}

/// One decision: the candidates' images (K, 1, h, w) and the sampled index.
struct Decision {
    images: Tensor,
    chosen: usize,
}

fn softmax(logits: &[f64]) -> Vec<f64> {
    let max = logits.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let e: Vec<f64> = logits.iter().map(|&z| (z - max).exp()).collect();
    let s: f64 = e.iter().sum();
    e.into_iter().map(|v| v / s).collect()
}

fn sample_index(p: &[f64], rng: &mut impl Rng) -> usize {
    let u: f64 = rng.gen();
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    p.len() - 1
}

/// Plain SGD step `θ ← θ − lr ∂L/∂θ` with the non-finite check of the universal step.
fn sgd_step(mlp: &mut Mlp, x: &Tensor, labels: &[u32], lr: f32, l1: f32) -> Result<f32> {
    let (loss, grads) = mlp.loss_and_grads(x, labels, l1)?;
    if !loss.is_finite() || grads.iter().any(|g| !g.all_finite()) {
        return Err(Error::NonFinite {
            run: "enn-episode".into(),
            step: 0,
            what: "candidate loss or gradient".into(),
        });
    }
    for (p, g) in mlp.params_mut().into_iter().zip(&grads) {
        p.add_scaled_(-lr, g)?;
    }
    Ok(loss)
}

/// The policy π over the candidates' ENN scores at temperature τ.
pub fn policy(scores: &[f32], tau: f32) -> Vec<f64> {
    let logits: Vec<f64> = scores.iter().map(|&s| s as f64 / tau as f64).collect();
    softmax(&logits)
}

/// One REINFORCE step: minimizes `advantage · Σ_t CE(E(images_t)/τ, chosen_t)` with Adam.
/// `images` is (T·K, 1, h, w) (decision-major), `chosen` has T entries. Returns the surrogate.
pub fn reinforce_step(
    enn: &mut EvaluationNet,
    adam: &mut Adam,
    images: &Tensor,
    chosen: &[usize],
    k: usize,
    tau: f32,
    advantage: f32,
) -> Result<f32> {
    let t = chosen.len();
    let n = images.dims().first().copied().unwrap_or(0);
    if t == 0 || k == 0 || n != t * k || chosen.iter().any(|&c| c >= k) {
        return Err(Error::shape(
            "reinforce_step",
            format!("{} images = decisions x K with choices < K={k}", t * k),
            format!("{n} images, {t} decisions"),
        ));
    }
    if !(tau > 0.0 && tau.is_finite()) {
        return Err(Error::invalid(
            "reinforce_step",
            format!("tau {tau} must be > 0"),
        ));
    }
    let labels: Vec<u32> = chosen.iter().map(|&c| c as u32).collect();
    let (value, grads) = {
        let mut tape = Tape::with_capacity(40);
        let vars = enn.bind(&mut tape, true);
        let x = tape.constant_ref(images);
        let out = enn.forward(&mut tape, &vars, x)?;
        let scores = tape.reshape(out.score, &[t, k])?;
        let logits = tape.mul_scalar(scores, 1.0 / tau);
        let ce_mean = tape.softmax_cross_entropy(logits, &labels)?; // mean_t −log π(k_t)
        let surrogate = tape.mul_scalar(ce_mean, advantage * t as f32);
        let value = tape.item(surrogate)?;
        let mut g = tape.backward(surrogate)?;
        let grads = EvaluationNet::vars_in_order(&vars)
            .iter()
            .map(|&v| {
                g.take(v)
                    .ok_or_else(|| Error::invalid("reinforce_step", "no gradient"))
            })
            .collect::<Result<Vec<_>>>()?;
        (value, grads)
    };
    if !value.is_finite() || grads.iter().any(|g| !g.all_finite()) {
        return Err(Error::NonFinite {
            run: "enn-training".into(),
            step: adam.t as usize,
            what: "REINFORCE surrogate or gradient".into(),
        });
    }
    let grad_refs: Vec<&Tensor> = grads.iter().collect();
    adam.step(&mut enn.params_mut(), &grad_refs)?;
    Ok(value)
}

fn validate_config(cfg: &ReinforceConfig) -> Result<()> {
    let (lo, hi) = cfg.init_scale_range;
    let bad = |r: &str| Err(Error::invalid("ReinforceConfig", r.to_string()));
    if cfg.batch == 0 || cfg.hidden == 0 || cfg.steps_per_episode == 0 {
        return bad("batch, hidden and steps_per_episode must be positive");
    }
    if cfg.lr_multipliers.is_empty() || cfg.branch_steps == 0 {
        return bad("need at least one multiplier and branch_steps >= 1");
    }
    if !(cfg.tau > 0.0 && cfg.tau.is_finite()) {
        return bad("tau must be positive");
    }
    if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
        return bad("init_scale_range must satisfy 0 < lo <= hi");
    }
    Ok(())
}

/// Runs one episode under a frozen `enn`; returns the log (without the update fields), the
/// decisions and the recorded states.
fn run_episode(
    enn: &EvaluationNet,
    cfg: &ReinforceConfig,
    data: &EnnData<'_>,
    episode: usize,
    seed: u64,
) -> Result<(EpisodeLog, Vec<Decision>, Vec<Tensor>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (lo, hi) = cfg.init_scale_range;
    let init_scale = if lo < hi { rng.gen_range(lo..hi) } else { lo };
    let mut mlp = Mlp::new(
        &[data.dim, cfg.hidden, data.classes()],
        Activation::Relu,
        Init::PytorchDefaultScaled(init_scale),
        &mut rng,
    )?;
    let start_score = enn.score(&mlp.layers[0].weight)?;
    let record = |mlp: &Mlp, states: &mut Vec<Tensor>| -> Result<()> {
        states.push(weight_images(&[&mlp.layers[0].weight], &enn.image)?);
        Ok(())
    };
    let mut states = Vec::new();
    let mut decisions = Vec::new();
    let (mut score_sum, mut score_n, mut mlp_loss) = (0.0f64, 0usize, f32::NAN);
    let mut p_largest_sum = 0.0f64;
    let k = cfg.lr_multipliers.len();
    let largest = (0..k)
        .max_by(|&a, &b| cfg.lr_multipliers[a].total_cmp(&cfg.lr_multipliers[b]))
        .unwrap_or(0);
    let mut step = 0usize;
    let mut next_record = 0usize;
    while step < cfg.steps_per_episode {
        if cfg.value.record_every > 0 && step >= next_record {
            record(&mlp, &mut states)?;
            next_record = step + cfg.value.record_every;
        }
        let decide = step.checked_rem(cfg.decide_every) == Some(0) && k > 1;
        if decide {
            let batches = (0..cfg.branch_steps)
                .map(|_| data.sample_batch(cfg.batch, &mut rng))
                .collect::<Result<Vec<_>>>()?;
            let mut candidates = Vec::with_capacity(k);
            for &m in &cfg.lr_multipliers {
                let mut c = mlp.clone();
                for (x, y) in &batches {
                    mlp_loss = sgd_step(&mut c, x, y, cfg.universal.lr * m, cfg.universal.l1)
                        .map_err(|e| at_step(e, "enn-episode", step))?;
                }
                candidates.push(c);
            }
            let w1s: Vec<&Tensor> = candidates.iter().map(|c| &c.layers[0].weight).collect();
            let images = weight_images(&w1s, &enn.image)?;
            let scores = enn.score_images(&images)?;
            let p = policy(&scores, cfg.tau);
            p_largest_sum += p[largest];
            let chosen = sample_index(&p, &mut rng);
            mlp = candidates.swap_remove(chosen);
            decisions.push(Decision { images, chosen });
            step += cfg.branch_steps;
        } else {
            let (x, y) = data.sample_batch(cfg.batch, &mut rng)?;
            let stats = universal_step(&mut mlp, enn, &x, &y, &cfg.universal, 1.0)
                .map_err(|e| at_step(e, "enn-episode", step))?;
            score_sum += stats.score as f64;
            score_n += 1;
            mlp_loss = stats.loss;
            step += 1;
        }
    }
    if cfg.value.record_every > 0 {
        record(&mlp, &mut states)?;
    }
    let final_score = enn.score(&mlp.layers[0].weight)?;
    let n_val = if cfg.val_limit == 0 {
        data.val_labels.len()
    } else {
        cfg.val_limit.min(data.val_labels.len())
    };
    let reward = mlp.accuracy(
        &data.val_images[..n_val * data.dim],
        &data.val_labels[..n_val],
    )?;
    let chosen: Vec<usize> = decisions.iter().map(|d| d.chosen).collect();
    let log = EpisodeLog {
        episode,
        seed,
        init_scale,
        reward: reward as f32,
        baseline: f32::NAN,
        mean_score: if score_n > 0 {
            (score_sum / score_n as f64) as f32
        } else {
            f32::NAN
        },
        start_score,
        final_score,
        chosen_multipliers: chosen.iter().map(|&c| cfg.lr_multipliers[c]).collect(),
        chosen,
        p_largest: if decisions.is_empty() {
            f32::NAN
        } else {
            (p_largest_sum / decisions.len() as f64) as f32
        },
        enn_loss: 0.0,
        mlp_loss,
    };
    Ok((log, decisions, states))
}

/// Counts the 32-bit words drawn through it (`next_u64` is two), so that a checkpoint can
/// record the RNG's position and a resumed run can skip to it (see
/// [`checkpoint`](super::checkpoint)).
struct CountingRng<'a, R> {
    inner: &'a mut R,
    words: u64,
}

impl<R: RngCore> RngCore for CountingRng<'_, R> {
    fn next_u32(&mut self) -> u32 {
        self.words += 1;
        self.inner.next_u32()
    }
    fn next_u64(&mut self) -> u64 {
        self.words += 2;
        self.inner.next_u64()
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        self.words += dest.len().div_ceil(4) as u64;
        self.inner.fill_bytes(dest)
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> std::result::Result<(), rand::Error> {
        self.words += dest.len().div_ceil(4) as u64;
        self.inner.try_fill_bytes(dest)
    }
}

/// Names the episode in a non-finite error (`"enn-episode"` steps count the episode's MLP
/// steps, `"enn-training"` steps count the ENN's Adam steps); other errors pass.
fn in_episode(err: Error, episode: usize) -> Error {
    match err {
        Error::NonFinite { run, step, what } => Error::NonFinite {
            run: format!("{run} (ENN training episode {episode})"),
            step,
            what,
        },
        e => e,
    }
}

/// Trains `enn` for `cfg.episodes` episodes with `cfg.rule`; calls `on_episode` after each
/// update and returns every log. All randomness comes from `rng` (one seed per episode, and
/// the value rule's replay draws), so the same seed gives identical logs on the same machine
/// and ISA. No checkpoints: see [`train_enn_resumable`].
pub fn train_enn(
    enn: &mut EvaluationNet,
    cfg: &ReinforceConfig,
    data: &EnnData<'_>,
    rng: &mut impl Rng,
    on_episode: impl FnMut(&EpisodeLog),
) -> Result<Vec<EpisodeLog>> {
    data.validate()?;
    validate_config(cfg)?;
    train_loop(enn, cfg, data, rng, None, None, on_episode)
}

/// [`train_enn`] with checkpoints and resumption; with neither it is exactly `train_enn`.
///
/// * `checkpoint_dir`: write the state ([`super::checkpoint`]) into this folder
///   after every `cfg.checkpoint_every` episodes and after the last, each write atomic. A run
///   stopped by an error (e.g. [`Error::NonFinite`], which names the episode, the step and the
///   quantity) writes nothing more, so the last good checkpoint stays on disk.
/// * `resume_from`: continue from the checkpoint in that folder. `rng` must be in the state
///   the interrupted run's RNG had when *its* training started (same seed, same draws
///   before, e.g. the ENN's initialization); the checkpoint records how many words training
///   drew and they are skipped. The checkpoint must come from the same configuration (except
///   `episodes`, which may grow, and `checkpoint_every`); `enn`'s parameters are overwritten
///   with the saved ones. `on_episode` is called for the new episodes only; the returned logs
///   include the restored ones. The result is bit-identical to an uninterrupted run.
///
/// The RNG is the concrete `StdRng` because skipping words reproduces its state exactly (one
/// stream of 32-bit words); another generator need not have that property.
pub fn train_enn_resumable(
    enn: &mut EvaluationNet,
    cfg: &ReinforceConfig,
    data: &EnnData<'_>,
    rng: &mut StdRng,
    checkpoint_dir: Option<&Path>,
    resume_from: Option<&Path>,
    on_episode: impl FnMut(&EpisodeLog),
) -> Result<Vec<EpisodeLog>> {
    data.validate()?;
    validate_config(cfg)?;
    let state = match resume_from {
        Some(dir) => {
            let s = checkpoint::load(dir, cfg, enn)?;
            // Episode 0's seed was the first u64 the interrupted run drew: a cheap check
            // that `rng` starts where that run's did.
            if let Some(first) = s.logs.first() {
                let drawn = rng.clone().next_u64();
                if drawn != first.seed {
                    return Err(Error::invalid(
                        "train_enn_resumable",
                        format!(
                            "the RNG differs from the run that wrote the checkpoint in {} \
                             (its first episode seed was {}, this RNG gives {drawn}); \
                             resume with the same seed",
                            dir.display(),
                            first.seed
                        ),
                    ));
                }
            }
            if s.next_episode > cfg.episodes {
                return Err(Error::invalid(
                    "train_enn_resumable",
                    format!(
                        "checkpoint in {} is past episode {} of a {}-episode run",
                        dir.display(),
                        s.next_episode,
                        cfg.episodes
                    ),
                ));
            }
            Some(s)
        }
        None => None,
    };
    train_loop(enn, cfg, data, rng, checkpoint_dir, state, on_episode)
}

/// The loop behind both entry points; `state` is a loaded checkpoint to continue from.
fn train_loop<R: RngCore>(
    enn: &mut EvaluationNet,
    cfg: &ReinforceConfig,
    data: &EnnData<'_>,
    rng: &mut R,
    checkpoint_dir: Option<&Path>,
    state: Option<TrainState>,
    mut on_episode: impl FnMut(&EpisodeLog),
) -> Result<Vec<EpisodeLog>> {
    let resumed = state.is_some();
    let mut state = state.unwrap_or_else(|| TrainState {
        rng_words: 0,
        next_episode: 0,
        enn_params: Vec::new(),
        adam_t: 0,
        adam_m: Vec::new(),
        adam_v: Vec::new(),
        reward_sum: 0.0,
        reward_sq: 0.0,
        n_rewards: 0,
        replay: Vec::new(),
        logs: Vec::with_capacity(cfg.episodes),
    });
    let (mut adam, mut buffer) = if resumed {
        state.restore(enn, cfg)?
    } else {
        (
            Adam::new(cfg.enn_lr),
            ReplayBuffer::new(cfg.value.replay_capacity),
        )
    };
    let (mut reward_sum, mut reward_sq, mut n_rewards) =
        (state.reward_sum, state.reward_sq, state.n_rewards);
    let mut logs = std::mem::take(&mut state.logs);
    for _ in 0..state.rng_words {
        rng.next_u32();
    }
    let mut rng = CountingRng {
        inner: rng,
        words: state.rng_words,
    };
    for episode in state.next_episode..cfg.episodes {
        // A NaN ENN weight can hide from the score (a ReLU maps NaN to 0), and Adam keeps a
        // NaN parameter NaN; so the parameters are checked directly, once per episode.
        if let Some(i) = enn.params().iter().position(|p| !p.all_finite()) {
            return Err(Error::NonFinite {
                run: format!("enn-training (ENN training episode {episode})"),
                step: adam.t as usize,
                what: format!("ENN parameter {i} ({})", enn.named_params()[i].0),
            });
        }
        let episode_seed: u64 = rng.gen();
        let (mut log, decisions, states) = run_episode(enn, cfg, data, episode, episode_seed)
            .map_err(|e| in_episode(e, episode))?;
        let r = log.reward as f64;
        // b = mean of the previous rewards; the first episode is its own baseline.
        let baseline = if n_rewards == 0 {
            r
        } else {
            reward_sum / n_rewards as f64
        };
        log.baseline = baseline as f32;
        log.enn_loss = match cfg.rule {
            EnnRule::Reinforce if !decisions.is_empty() => {
                let mut advantage = r - baseline;
                if cfg.normalize_advantage && n_rewards >= 2 {
                    let var = reward_sq / n_rewards as f64 - baseline * baseline;
                    advantage /= var.max(0.0).sqrt().max(1e-3);
                }
                let refs: Vec<&Tensor> = decisions.iter().map(|d| &d.images).collect();
                let images = concat_batches(&refs)?;
                let chosen: Vec<usize> = decisions.iter().map(|d| d.chosen).collect();
                let k = cfg.lr_multipliers.len();
                reinforce_step(
                    enn,
                    &mut adam,
                    &images,
                    &chosen,
                    k,
                    cfg.tau,
                    advantage as f32,
                )
                .map_err(|e| in_episode(e, episode))?
            }
            EnnRule::Reinforce => 0.0,
            EnnRule::Value => value_update(
                enn,
                &mut adam,
                &states,
                log.reward,
                &mut buffer,
                &cfg.value,
                &mut rng,
            )
            .map_err(|e| in_episode(e, episode))?,
        };
        reward_sum += r;
        reward_sq += r * r;
        n_rewards += 1;
        on_episode(&log);
        logs.push(log);
        let done = episode + 1;
        if let Some(dir) = checkpoint_dir {
            let every = cfg.checkpoint_every;
            if done == cfg.episodes || (every > 0 && done.is_multiple_of(every)) {
                // Adam's update rejects non-finite gradients, but a huge step can still
                // overflow a parameter; such a state is never written over a good one.
                let finite = |ts: &[Tensor]| ts.iter().all(Tensor::all_finite);
                let params: Vec<Tensor> = enn.params().into_iter().cloned().collect();
                if !finite(&params) || !finite(&adam.m) || !finite(&adam.v) {
                    return Err(Error::NonFinite {
                        run: format!("enn-training (ENN training episode {episode})"),
                        step: adam.t as usize,
                        what: "ENN parameter or Adam moment before a checkpoint".into(),
                    });
                }
                let snapshot = TrainState {
                    rng_words: rng.words,
                    next_episode: done,
                    enn_params: params,
                    adam_t: adam.t,
                    adam_m: adam.m.clone(),
                    adam_v: adam.v.clone(),
                    reward_sum,
                    reward_sq,
                    n_rewards,
                    replay: buffer.pairs().map(|(t, r)| (t.clone(), r)).collect(),
                    logs: logs.clone(),
                };
                checkpoint::save(dir, &snapshot, cfg, enn)?;
            }
        }
    }
    Ok(logs)
}

/// Concatenates batches (n_i, c, h, w) along the first axis.
fn concat_batches(batches: &[&Tensor]) -> Result<Tensor> {
    let first = batches
        .first()
        .ok_or_else(|| Error::invalid("concat_batches", "nothing to concatenate"))?;
    let tail = first.dims()[1..].to_vec();
    let mut n = 0;
    let mut data = Vec::new();
    for b in batches {
        if b.dims()[1..] != tail[..] {
            return Err(Error::shape(
                "concat_batches",
                format!("(n, {tail:?})"),
                format!("{:?}", b.dims()),
            ));
        }
        n += b.dims()[0];
        data.extend_from_slice(b.data());
    }
    let mut dims = vec![n];
    dims.extend_from_slice(&tail);
    Tensor::from_vec(data, &dims)
}
