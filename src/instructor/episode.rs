//! One episode of ENN training: an MLP trained under the current (frozen) ENN, with decisions
//! between candidate learning rates; what the rules then learn from.
//!
//! ## An episode (our reconstruction; every choice is an [`EnnTrainingConfig`] field)
//!
//! 1. A fresh MLP of the target's architecture (`dim`-`hidden`…-`classes`, `activation`)
//!    with the episode's own seed, initialized with PyTorch's default bound times a factor s
//!    drawn from U(`init_scale_range`), so that the ENN sees states of varied quality.
//! 2. `steps_per_episode` steps on random mini-batches (drawn with replacement) of the
//!    training set, each a [universal-backpropagation step](super::universal) under the
//!    *current* ENN.
//! 3. Every `decide_every` steps (from step 0) a decision instead: K candidate next states,
//!    the k-th made by `branch_steps` plain SGD steps at learning rate η·m_k on shared batches
//!    (m = `lr_multipliers`); the ENN scores all K in one batched forward pass; the policy is
//!    `π(k) = softmax_k(E(cand_k)/τ)`; k is sampled with the episode's RNG and training
//!    continues from that candidate.
//! 4. Reward R = the final MLP's accuracy on the validation set (the first `val_limit`
//!    examples; never the test set).
//!
//! The value rule also records the W1 image every `value.record_every` steps and at the end.
//!
//! ## What the ENN sees and moves, and what it can learn from these episodes
//!
//! The init factor s scales the bound of *every* layer together (W1, b1, W2, b2, …), while
//! the ENN sees only W1 (through its downsampled image, whose fixed gain keeps W1's
//! magnitude) and its ascent term moves only W1. So:
//!
//! * it **can** learn that R depends on s, because s is written in W1's magnitude — all the
//!   more so with the bilinear image, whose taps read mostly W1 entries that get no
//!   cross-entropy gradient (the inputs of MNIST's always-blank frame) and therefore keep
//!   their initial values, i.e. record s, for the whole episode;
//! * it **cannot** see the later layers: the part of R that s explains through b1, W2, b2 is
//!   credited to W1's look, so E is partly a correlational predictor of s; ascending E then
//!   grows W1's magnitude (the feature it reads) without changing the later layers that made
//!   a large-s episode good or bad, and it says nothing about a target MLP whose layers were
//!   initialized with a different ratio between them (e.g. the He arm);
//! * states that differ only beyond W1, or only in W1 entries the image does not read, look
//!   the same to it.

use super::config::EnnTrainingConfig;
use super::enn::EvaluationNet;
use super::universal::{at_step, universal_step};
use super::weight_image::weight_images;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nn::{Init, Mlp, Sgd};
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};

/// Serde helpers that store floats as their IEEE bit patterns: checkpoints must resume
/// bit-exactly, and logs hold NaN (`mean_score` of an episode without universal steps),
/// which JSON numbers cannot represent.
pub(crate) mod bits {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    /// `f32` as `u32` bits.
    pub mod f32 {
        use super::*;
        pub fn serialize<S: Serializer>(x: &f32, s: S) -> Result<S::Ok, S::Error> {
            x.to_bits().serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f32, D::Error> {
            u32::deserialize(d).map(f32::from_bits)
        }
    }

    /// `Vec<f32>` as `Vec<u32>` bits.
    pub mod vec_f32 {
        use super::*;
        pub fn serialize<S: Serializer>(x: &[f32], s: S) -> Result<S::Ok, S::Error> {
            s.collect_seq(x.iter().map(|v| v.to_bits()))
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<f32>, D::Error> {
            Vec::<u32>::deserialize(d).map(|v| v.into_iter().map(f32::from_bits).collect())
        }
    }

    /// `f64` as `u64` bits.
    pub mod f64 {
        use super::*;
        pub fn serialize<S: Serializer>(x: &f64, s: S) -> Result<S::Ok, S::Error> {
            x.to_bits().serialize(s)
        }
        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
            u64::deserialize(d).map(f64::from_bits)
        }
    }
}

/// What one episode did and what the ENN learned from it. (Serialized with every float as
/// its bit pattern, for checkpoints.)
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EpisodeLog {
    /// Episode index, from 0.
    pub episode: usize,
    /// Seed of the episode's MLP and batches.
    pub seed: u64,
    /// Factor on PyTorch's default init bound.
    #[serde(with = "bits::f32")]
    pub init_scale: f32,
    /// Validation accuracy of the final MLP.
    #[serde(with = "bits::f32")]
    pub reward: f32,
    /// Baseline b used in this episode's update.
    #[serde(with = "bits::f32")]
    pub baseline: f32,
    /// Mean ENN score over the episode's universal steps.
    #[serde(with = "bits::f32")]
    pub mean_score: f32,
    /// ENN score of the initial state (ENN before this episode's update).
    #[serde(with = "bits::f32")]
    pub start_score: f32,
    /// ENN score of the final state (ENN before this episode's update): the prediction of R.
    #[serde(with = "bits::f32")]
    pub final_score: f32,
    /// Chosen candidate index per decision.
    pub chosen: Vec<usize>,
    /// Chosen learning-rate multiplier per decision.
    #[serde(with = "bits::vec_f32")]
    pub chosen_multipliers: Vec<f32>,
    /// Mean policy probability of the largest multiplier at the decisions.
    #[serde(with = "bits::f32")]
    pub p_largest: f32,
    /// The ENN's training loss this episode (REINFORCE surrogate or value MSE).
    #[serde(with = "bits::f32")]
    pub enn_loss: f32,
    /// Last mini-batch loss of the MLP.
    #[serde(with = "bits::f32")]
    pub mlp_loss: f32,
}

/// One decision: the candidates' images (K, 1, h, w) and the sampled index.
#[derive(Clone, Debug)]
pub struct Decision {
    /// The K candidates' W1 images, (K, 1, h, w).
    pub images: Tensor,
    /// The sampled candidate.
    pub chosen: usize,
}

/// What an episode hands to the rules.
#[derive(Clone, Debug)]
pub struct Episode {
    /// The log, without the update fields (`baseline`, `enn_loss`), which the trainer fills.
    pub log: EpisodeLog,
    /// The decisions, in order (REINFORCE learns from them).
    pub decisions: Vec<Decision>,
    /// The recorded W1 images (1, 1, h, w) (the value rule learns from them).
    pub states: Vec<Tensor>,
}

/// The policy π over the candidates' ENN scores at temperature τ: `softmax(scores / τ)`.
pub fn policy(scores: &[f32], tau: f32) -> Vec<f64> {
    let logits: Vec<f64> = scores.iter().map(|&s| s as f64 / tau as f64).collect();
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

/// Checks that the training and validation sets can feed episodes: non-empty, consistent
/// lengths, the same image width.
pub fn check_data(train: &Dataset, val: &Dataset) -> Result<()> {
    let consistent = |d: &Dataset| d.dim > 0 && !d.is_empty() && d.images.len() == d.len() * d.dim;
    if !consistent(train) || !consistent(val) || train.dim != val.dim {
        return Err(Error::shape(
            "ENN training data",
            format!(
                "non-empty training and validation sets, images = labels x {}",
                train.dim
            ),
            format!(
                "train {} values / {} labels / dim {}, val {} values / {} labels / dim {}",
                train.images.len(),
                train.len(),
                train.dim,
                val.images.len(),
                val.len(),
                val.dim
            ),
        ));
    }
    Ok(())
}

/// Number of classes: one more than the largest label of either set (at least 2).
pub fn classes(train: &Dataset, val: &Dataset) -> usize {
    let max = train.labels.iter().chain(&val.labels).copied().max();
    (max.unwrap_or(0) as usize + 1).max(2)
}

/// A mini-batch of `batch` examples drawn uniformly (with replacement).
fn sample_batch(data: &Dataset, batch: usize, rng: &mut impl Rng) -> Result<(Tensor, Vec<u32>)> {
    let mut x = Vec::with_capacity(batch * data.dim);
    let mut y = Vec::with_capacity(batch);
    for _ in 0..batch {
        let i = rng.gen_range(0..data.len());
        x.extend_from_slice(data.image(i));
        y.push(data.labels[i]);
    }
    Ok((Tensor::from_vec(x, &[batch, data.dim])?, y))
}

/// Plain SGD step `θ ← θ − lr ∂L/∂θ` ([`Mlp::train_step`], which refuses a non-finite loss
/// or gradient), its non-finite error named as the episode's.
fn sgd_step(mlp: &mut Mlp, x: &Tensor, labels: &[u32], lr: f32, l1: f32) -> Result<f32> {
    mlp.train_step(&mut Sgd::new(lr), x, labels, l1)
        .map_err(|e| match e {
            Error::NonFinite { .. } => Error::NonFinite {
                run: "enn-episode".into(),
                step: 0,
                what: "candidate loss or gradient".into(),
            },
            e => e,
        })
}

/// The state of one episode's rollout between steps.
struct Rollout<'a> {
    enn: &'a EvaluationNet,
    cfg: &'a EnnTrainingConfig,
    train: &'a Dataset,
    rng: StdRng,
    mlp: Mlp,
    step: usize,
    next_record: usize,
    states: Vec<Tensor>,
    decisions: Vec<Decision>,
    score_sum: f64,
    score_n: usize,
    p_largest_sum: f64,
    mlp_loss: f32,
}

impl Rollout<'_> {
    fn record(&mut self) -> Result<()> {
        let image = weight_images(&[&self.mlp.layers[0].weight], &self.enn.image)?;
        self.states.push(image);
        Ok(())
    }

    /// One step: a decision (K branches of `branch_steps` SGD steps) or a universal step.
    fn advance(&mut self) -> Result<()> {
        let cfg = self.cfg;
        let every = cfg.value.record_every;
        if every > 0 && self.step >= self.next_record {
            self.record()?;
            self.next_record = self.step + every;
        }
        let k = cfg.lr_multipliers.len();
        if self.step.checked_rem(cfg.decide_every) == Some(0) && k > 1 {
            self.decide()
        } else {
            let (x, y) = sample_batch(self.train, cfg.batch, &mut self.rng)?;
            let stats = universal_step(&mut self.mlp, self.enn, &x, &y, &cfg.universal, 1.0)
                .map_err(|e| at_step(e, "enn-episode", self.step))?;
            self.score_sum += stats.score as f64;
            self.score_n += 1;
            self.mlp_loss = stats.loss;
            self.step += 1;
            Ok(())
        }
    }

    fn decide(&mut self) -> Result<()> {
        let cfg = self.cfg;
        let batches = (0..cfg.branch_steps)
            .map(|_| sample_batch(self.train, cfg.batch, &mut self.rng))
            .collect::<Result<Vec<_>>>()?;
        let mut candidates = Vec::with_capacity(cfg.lr_multipliers.len());
        for &m in &cfg.lr_multipliers {
            let mut c = self.mlp.clone();
            for (x, y) in &batches {
                let lr = cfg.universal.lr * m;
                self.mlp_loss = sgd_step(&mut c, x, y, lr, cfg.universal.l1)
                    .map_err(|e| at_step(e, "enn-episode", self.step))?;
            }
            candidates.push(c);
        }
        let w1s: Vec<&Tensor> = candidates.iter().map(|c| &c.layers[0].weight).collect();
        let images = weight_images(&w1s, &self.enn.image)?;
        let scores = self.enn.score_images(&images)?;
        if !scores.iter().all(|s| s.is_finite()) {
            // A NaN score would make the policy NaN and the choice silently the last one.
            return Err(Error::NonFinite {
                run: "enn-episode".into(),
                step: self.step,
                what: format!("ENN score of the candidates {scores:?}"),
            });
        }
        let p = policy(&scores, cfg.tau);
        let largest = (0..p.len())
            .max_by(|&a, &b| cfg.lr_multipliers[a].total_cmp(&cfg.lr_multipliers[b]))
            .unwrap_or(0);
        self.p_largest_sum += p[largest];
        let chosen = sample_index(&p, &mut self.rng);
        self.mlp = candidates.swap_remove(chosen);
        self.decisions.push(Decision { images, chosen });
        self.step += cfg.branch_steps;
        Ok(())
    }
}

/// An episode's fresh MLP: `dim`-`cfg.hidden`…-`classes` with `cfg.activation` (the
/// target's architecture), PyTorch's default init with every layer's bound times s ~
/// U(`cfg.init_scale_range`) drawn first from `rng`. Returns (s, the MLP).
pub fn initial_mlp(
    cfg: &EnnTrainingConfig,
    dim: usize,
    classes: usize,
    rng: &mut impl Rng,
) -> Result<(f32, Mlp)> {
    let (lo, hi) = cfg.init_scale_range;
    let init_scale = if lo < hi { rng.gen_range(lo..hi) } else { lo };
    let sizes = cfg.mlp_sizes(dim, classes);
    let init = Init::PytorchDefaultScaled(init_scale);
    Ok((init_scale, Mlp::new(&sizes, cfg.activation, init, rng)?))
}

/// Runs episode `episode` with seed `seed` under the frozen `enn` (see the module docs).
/// `train` and `val` must have passed [`check_data`].
pub fn run_episode(
    enn: &EvaluationNet,
    cfg: &EnnTrainingConfig,
    train: &Dataset,
    val: &Dataset,
    episode: usize,
    seed: u64,
) -> Result<Episode> {
    let mut rng = StdRng::seed_from_u64(seed);
    let (init_scale, mlp) = initial_mlp(cfg, train.dim, classes(train, val), &mut rng)?;
    let start_score = enn.score(&mlp.layers[0].weight)?;
    let mut r = Rollout {
        enn,
        cfg,
        train,
        rng,
        mlp,
        step: 0,
        next_record: 0,
        states: Vec::new(),
        decisions: Vec::new(),
        score_sum: 0.0,
        score_n: 0,
        p_largest_sum: 0.0,
        mlp_loss: f32::NAN,
    };
    while r.step < cfg.steps_per_episode {
        r.advance()?;
    }
    if cfg.value.record_every > 0 {
        r.record()?;
    }
    let final_score = enn.score(&r.mlp.layers[0].weight)?;
    let n_val = match cfg.val_limit {
        0 => val.len(),
        n => n.min(val.len()),
    };
    let reward = r
        .mlp
        .accuracy(&val.images[..n_val * val.dim], &val.labels[..n_val])?;
    let chosen: Vec<usize> = r.decisions.iter().map(|d| d.chosen).collect();
    let mean = |sum: f64, n: usize| {
        if n > 0 {
            (sum / n as f64) as f32
        } else {
            f32::NAN
        }
    };
    let log = EpisodeLog {
        episode,
        seed,
        init_scale,
        reward: reward as f32,
        baseline: f32::NAN,
        mean_score: mean(r.score_sum, r.score_n),
        start_score,
        final_score,
        chosen_multipliers: chosen.iter().map(|&c| cfg.lr_multipliers[c]).collect(),
        chosen,
        p_largest: mean(r.p_largest_sum, r.decisions.len()),
        enn_loss: 0.0,
        mlp_loss: r.mlp_loss,
    };
    Ok(Episode {
        log,
        decisions: r.decisions,
        states: r.states,
    })
}
