//! Value-rule ENN training for the study's `onpolicy` and `all_layers` variants
//! (`docs/study.md`, stage 3).
//!
//! An episode trains a fresh target MLP (the target's own architecture) for `steps` steps on
//! random mini-batches; its init is the default bound times a factor from
//! `init_scale_range`, its learning rate `lr·2^u` with `u ~ U(−lr_log2_spread, +lr_log2_spread)`.
//! *On-policy* (`on_policy_rho = Some(ρ)`), every step is the additive study step under the ENN
//! being trained, at the rate that makes its term ρ × the loss term at the episode's first
//! batch (recalibrated each episode, so the episodes run at the deployment ratio); otherwise
//! the steps are plain SGD. The state (the image of every matrix the ENN reads) is recorded
//! every `record_every` steps while `t + lookahead ≤ steps`; its target is the reward-split
//! accuracy `lookahead` steps later. The ENN then takes `updates_per_episode` Adam steps of
//! `mean (E(state) − target)²` over the episode's states and `replay_batch` replayed ones,
//! with `E(state)` the mean of the ENN's scores of the state's images. A direction that
//! raises E without raising accuracy is thereby penalised by the accuracy it produces.

use super::enn::EvaluationNet;
use super::rules::concat_images;
use super::variants::{
    enn_image, step_ratio, variant_step, Coupling, EnnEvaluator, EnnOutputKind, Evaluator, LayerSet,
};
use super::weight_image::WeightImageConfig;
use crate::autodiff::Tape;
use crate::data::Dataset;
use crate::error::{Error, Result};
use crate::nn::{Activation, Adam, Init, Mlp, Module};
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::VecDeque;

/// The recipe of a value-rule ENN (all our reconstruction; `docs/study.md`).
#[derive(Clone, Debug, PartialEq)]
pub struct ValueEnnSpec {
    /// Target layer widths (the episodes' MLP).
    pub sizes: Vec<usize>,
    /// Target nonlinearity.
    pub activation: Activation,
    /// The matrices the ENN reads (and later moves).
    pub layers: LayerSet,
    /// The base image configuration (small matrices get a raised scale).
    pub image: WeightImageConfig,
    /// Range of the factor on the default init bound (`(1, 1)`: the default init).
    pub init_scale_range: (f32, f32),
    /// On-policy at this step-0 ratio ρ; `None`: plain-SGD episodes.
    pub on_policy_rho: Option<f32>,
    /// Base learning rate η.
    pub lr: f32,
    /// Episode learning rates are `η·2^u`, `u ~ U(−s, s)`.
    pub lr_log2_spread: f32,
    /// Mini-batch size.
    pub batch: usize,
    /// Number of episodes.
    pub episodes: usize,
    /// MLP steps per episode.
    pub steps: usize,
    /// A state every this many steps.
    pub record_every: usize,
    /// Steps between a state and its target.
    pub lookahead: usize,
    /// Reward-split examples used for a target (the first ones; 0: all).
    pub reward_limit: usize,
    /// Adam learning rate of the ENN.
    pub enn_lr: f32,
    /// Replay buffer capacity (states).
    pub replay_capacity: usize,
    /// Replayed states per update.
    pub replay_batch: usize,
    /// Adam steps per episode.
    pub updates_per_episode: usize,
}

impl ValueEnnSpec {
    /// The study's recipe for `sizes`: 40 episodes of 600 steps, a state every 50 steps with a
    /// 200-step lookahead, 2,000 reward images, Adam 1e-3, replay 32 of 2,048, 2 updates.
    pub fn study(sizes: &[usize], layers: LayerSet) -> ValueEnnSpec {
        ValueEnnSpec {
            sizes: sizes.to_vec(),
            activation: Activation::Relu,
            layers,
            image: WeightImageConfig::default(),
            init_scale_range: (1.0, 1.0),
            on_policy_rho: None,
            lr: 0.01,
            lr_log2_spread: 1.0,
            batch: 64,
            episodes: 40,
            steps: 600,
            record_every: 50,
            lookahead: 200,
            reward_limit: 2000,
            enn_lr: 1e-3,
            replay_capacity: 2048,
            replay_batch: 32,
            updates_per_episode: 2,
        }
    }

    fn validate(&self) -> Result<()> {
        let (lo, hi) = self.init_scale_range;
        let ok = self.sizes.len() >= 2
            && self.batch > 0
            && self.steps > 0
            && self.record_every > 0
            && self.lookahead <= self.steps
            && lo > 0.0
            && lo <= hi
            && hi.is_finite()
            && self.lr > 0.0
            && self.lr_log2_spread >= 0.0
            && self.on_policy_rho.is_none_or(|r| r >= 0.0 && r.is_finite());
        if !ok {
            return Err(Error::invalid(
                "ValueEnnSpec",
                format!("inconsistent recipe {self:?}"),
            ));
        }
        Ok(())
    }
}

/// What one episode did.
#[derive(Clone, Debug, PartialEq)]
pub struct ValueEpisodeLog {
    /// Episode index.
    pub episode: usize,
    /// Factor on the default init bound.
    pub init_scale: f32,
    /// The episode's learning rate.
    pub lr: f32,
    /// The rate of the ENN term (0 off-policy).
    pub le: f32,
    /// Mean target over the recorded states.
    pub mean_target: f32,
    /// Reward-split accuracy at the end of the episode.
    pub final_accuracy: f32,
    /// Mean regression loss of the updates.
    pub loss: f32,
}

/// A recorded state: one image per matrix the ENN reads, and its target.
type State = (Vec<Tensor>, f32);

/// The images of `mlp`'s matrices as an ENN with image configuration `base` reading `layers`
/// sees them.
pub fn state_images(mlp: &Mlp, layers: LayerSet, base: &WeightImageConfig) -> Result<Vec<Tensor>> {
    layers
        .indices(mlp.layers.len())
        .map(|l| enn_image(&mlp.layers[l].weight, base, layers, l))
        .collect()
}

/// One Adam step of `mean_i (mean_k E(image_{i,k}) − target_i)²`; returns the loss.
fn regression_step(enn: &mut EvaluationNet, adam: &mut Adam, states: &[&State]) -> Result<f32> {
    let n = states.len();
    let groups = states.first().map_or(0, |s| s.0.len());
    if n == 0 || groups == 0 || states.iter().any(|s| s.0.len() != groups) {
        return Err(Error::invalid(
            "regression_step",
            "no states or ragged states",
        ));
    }
    let stacked = (0..groups)
        .map(|k| concat_images(&states.iter().map(|s| &s.0[k]).collect::<Vec<_>>()))
        .collect::<Result<Vec<_>>>()?;
    let target = Tensor::from_vec(states.iter().map(|s| s.1).collect(), &[n, 1])?;
    let (loss, grads) = {
        let mut tape = Tape::with_capacity(32 * groups + 8);
        let vars = enn.bind(&mut tape, true);
        let mut mean = None;
        for img in &stacked {
            let x = tape.constant_ref(img);
            let s = enn.forward(&mut tape, &vars, x)?.score;
            let s = tape.mul_scalar(s, 1.0 / groups as f32);
            mean = Some(match mean {
                None => s,
                Some(m) => tape.add(m, s)?,
            });
        }
        let mean = mean.expect("at least one group");
        let t = tape.constant(target);
        let loss = tape.mse(mean, t)?;
        let value = tape.item(loss)?;
        let mut g = tape.backward(loss)?;
        (value, enn.grads(&tape, &mut g)?)
    };
    if !loss.is_finite() || grads.iter().any(|g| !g.all_finite()) {
        return Err(Error::NonFinite {
            run: "value-enn".into(),
            step: adam.t as usize,
            what: "regression loss or gradient".into(),
        });
    }
    adam.step(enn, &grads)?;
    Ok(loss)
}

fn sample_batch(ds: &Dataset, batch: usize, rng: &mut impl Rng) -> Result<(Tensor, Vec<u32>)> {
    let mut x = Vec::with_capacity(batch * ds.dim);
    let mut y = Vec::with_capacity(batch);
    for _ in 0..batch {
        let i = rng.gen_range(0..ds.len());
        x.extend_from_slice(ds.image(i));
        y.push(ds.labels[i]);
    }
    Ok((Tensor::from_vec(x, &[batch, ds.dim])?, y))
}

/// One episode's target MLP before training: its random initialisation scale and learning
/// rate, the network and its minibatches, all drawn from the episode's own RNG in this order.
struct EpisodeSetup {
    init_scale: f32,
    lr: f32,
    mlp: Mlp,
    batches: Vec<(Tensor, Vec<u32>)>,
}

fn set_up_episode(
    spec: &ValueEnnSpec,
    train: &Dataset,
    ep_rng: &mut StdRng,
) -> Result<EpisodeSetup> {
    let (lo, hi) = spec.init_scale_range;
    let init_scale = if lo < hi {
        ep_rng.gen_range(lo..hi)
    } else {
        lo
    };
    let s = spec.lr_log2_spread;
    let u = if s > 0.0 {
        ep_rng.gen_range(-s..s)
    } else {
        0.0
    };
    let lr = spec.lr * 2f32.powf(u);
    let mlp = Mlp::new(
        &spec.sizes,
        spec.activation,
        Init::PytorchDefaultScaled(init_scale),
        ep_rng,
    )?;
    let batches = (0..spec.steps)
        .map(|_| sample_batch(train, spec.batch, ep_rng))
        .collect::<Result<Vec<_>>>()?;
    Ok(EpisodeSetup {
        init_scale,
        lr,
        mlp,
        batches,
    })
}

/// What one episode's rollout yields: the (state images, accuracy `lookahead` steps later)
/// pairs, the coupling weight used, and the MLP's final accuracy.
struct Rollout {
    states: Vec<State>,
    le: f32,
    final_accuracy: f32,
}

/// Trains the episode's MLP for `spec.steps` steps (coupled to the ENN when on-policy), recording
/// the state every `record_every` steps and the reward-set accuracy `lookahead` steps later.
fn roll_out(
    enn: &mut EvaluationNet,
    spec: &ValueEnnSpec,
    setup: &mut EpisodeSetup,
    episode: usize,
    accuracy: &impl Fn(&Mlp) -> Result<f32>,
) -> Result<Rollout> {
    let (mlp, lr) = (&mut setup.mlp, setup.lr);
    let mut recorded: Vec<(usize, Vec<Tensor>)> = Vec::new();
    let mut targets: Vec<(usize, f32)> = Vec::new();
    let evaluator = Evaluator::Enn(EnnEvaluator {
        enn,
        output: EnnOutputKind::Sigmoid,
        layers: spec.layers,
    });
    let le = match spec.on_policy_rho {
        Some(rho) => {
            let (x, y) = &setup.batches[0];
            let r = step_ratio(mlp, x, y, lr, &evaluator, Coupling::Additive { le: 1.0 })?;
            (rho as f64 / r) as f32
        }
        None => 0.0,
    };
    for (t, (x, y)) in setup.batches.iter().enumerate() {
        if t % spec.record_every == 0 && t + spec.lookahead <= spec.steps {
            recorded.push((t, state_images(mlp, spec.layers, &spec.image)?));
        }
        if t >= spec.lookahead && (t - spec.lookahead).is_multiple_of(spec.record_every) {
            targets.push((t - spec.lookahead, accuracy(mlp)?));
        }
        let coupling = (le != 0.0).then_some((&evaluator, Coupling::Additive { le }));
        variant_step(mlp, x, y, lr, 1.0, 0.0, coupling).map_err(|e| match e {
            Error::NonFinite { what, .. } => Error::NonFinite {
                run: format!("value-enn episode {episode}"),
                step: t,
                what,
            },
            e => e,
        })?;
    }
    let final_accuracy = accuracy(mlp)?;
    let t_end = spec.steps;
    if t_end >= spec.lookahead && (t_end - spec.lookahead).is_multiple_of(spec.record_every) {
        targets.push((t_end - spec.lookahead, final_accuracy));
    }
    let states: Vec<State> = recorded
        .into_iter()
        .filter_map(|(t, imgs)| {
            targets
                .iter()
                .find(|(tt, _)| *tt == t)
                .map(|&(_, r)| (imgs, r))
        })
        .collect();
    Ok(Rollout {
        states,
        le,
        final_accuracy,
    })
}

/// `updates_per_episode` regression steps on this episode's states plus `replay_batch` replayed
/// ones each; returns the summed loss. The states then enter the replay buffer (oldest leave).
fn fit_and_replay(
    enn: &mut EvaluationNet,
    adam: &mut Adam,
    spec: &ValueEnnSpec,
    states: Vec<State>,
    replay: &mut VecDeque<State>,
    rng: &mut impl Rng,
) -> Result<f64> {
    let mut loss = 0.0f64;
    if !states.is_empty() {
        for _ in 0..spec.updates_per_episode {
            let mut batch: Vec<&State> = states.iter().collect();
            if !replay.is_empty() {
                for _ in 0..spec.replay_batch {
                    batch.push(&replay[rng.gen_range(0..replay.len())]);
                }
            }
            loss += regression_step(enn, adam, &batch)? as f64;
        }
    }
    for s in states {
        if spec.replay_capacity == 0 {
            break;
        }
        if replay.len() == spec.replay_capacity {
            replay.pop_front();
        }
        replay.push_back(s);
    }
    Ok(loss)
}

/// Trains `enn` by the value rule on episodes of `spec` (module docs), episodes on `train`,
/// targets on `reward`. All randomness comes from `rng`; `on_episode` sees each log.
/// `enn.image` is set to `spec.image`.
pub fn train_value_enn(
    enn: &mut EvaluationNet,
    spec: &ValueEnnSpec,
    train: &Dataset,
    reward: &Dataset,
    rng: &mut impl Rng,
    mut on_episode: impl FnMut(&ValueEpisodeLog),
) -> Result<Vec<ValueEpisodeLog>> {
    spec.validate()?;
    if train.is_empty() || reward.is_empty() || train.dim != spec.sizes[0] {
        return Err(Error::shape(
            "train_value_enn",
            format!("non-empty data with {} inputs", spec.sizes[0]),
            format!("{} / {} images of {}", train.len(), reward.len(), train.dim),
        ));
    }
    enn.image = spec.image.clone();
    let n_reward = match spec.reward_limit {
        0 => reward.len(),
        k => k.min(reward.len()),
    };
    let accuracy = |m: &Mlp| -> Result<f32> {
        Ok(m.accuracy(
            &reward.images[..n_reward * reward.dim],
            &reward.labels[..n_reward],
        )? as f32)
    };
    let mut adam = Adam::new(spec.enn_lr);
    let mut replay: VecDeque<State> = VecDeque::with_capacity(spec.replay_capacity);
    let mut logs = Vec::with_capacity(spec.episodes);
    for episode in 0..spec.episodes {
        let mut ep_rng = StdRng::seed_from_u64(rng.next_u64());
        let mut setup = set_up_episode(spec, train, &mut ep_rng)?;
        let rollout = roll_out(enn, spec, &mut setup, episode, &accuracy)?;
        let mean_target =
            rollout.states.iter().map(|s| s.1).sum::<f32>() / rollout.states.len().max(1) as f32;
        let loss = fit_and_replay(enn, &mut adam, spec, rollout.states, &mut replay, rng)?;
        let log = ValueEpisodeLog {
            episode,
            init_scale: setup.init_scale,
            lr: setup.lr,
            le: rollout.le,
            mean_target,
            final_accuracy: rollout.final_accuracy,
            loss: (loss / spec.updates_per_episode.max(1) as f64) as f32,
        };
        on_episode(&log);
        logs.push(log);
    }
    Ok(logs)
}
