//! The value rule (`EnnRule::Value`): Monte-Carlo value regression.
//!
//! Every state an episode visits gets the episode's final reward R as its target, and the ENN
//! minimizes `mean_t (E(s_t) − R)²` with Adam. E then estimates the expected final validation
//! accuracy reached from a state under the episode's training procedure, which is what the
//! ENN is asked to predict. Optionally a replay buffer of recent (state image, R) pairs is
//! mixed into every update, so that one episode's (highly correlated) states do not drag the
//! ENN towards that single reward.

use super::{concat_images, enn_step};
use crate::error::{Error, Result};
use crate::instructor::enn::EvaluationNet;
use crate::nn::Adam;
use crate::tensor::Tensor;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

/// Hyperparameters of the value rule (all our reconstruction).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct ValueConfig {
    /// A state image is recorded every this many MLP steps (and at the episode's end).
    pub record_every: usize,
    /// Capacity of the replay buffer of (image, R) pairs; 0 disables replay.
    pub replay_capacity: usize,
    /// Replayed pairs added to each update (drawn uniformly with the seeded RNG).
    pub replay_batch: usize,
    /// Adam steps per episode.
    pub updates_per_episode: usize,
}

impl Default for ValueConfig {
    fn default() -> Self {
        // Sized so that the ENN's updates cost less than the episodes they learn from (denser
        // recording, larger replay batches and more updates made training several times
        // slower in our tuning runs without a better held-out fit; the code of those runs is
        // not in the repository, so no figure is given here).
        ValueConfig {
            record_every: 25,
            replay_capacity: 2048,
            replay_batch: 32,
            updates_per_episode: 2,
        }
    }
}

/// A FIFO buffer of recent (state image, reward) pairs.
#[derive(Clone, Debug, Default)]
pub struct ReplayBuffer {
    items: VecDeque<(Tensor, f32)>,
    capacity: usize,
}

impl ReplayBuffer {
    /// An empty buffer holding at most `capacity` pairs.
    pub fn new(capacity: usize) -> Self {
        ReplayBuffer {
            items: VecDeque::with_capacity(capacity),
            capacity,
        }
    }

    /// Number of stored pairs.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Whether the buffer is empty.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The stored pairs, oldest first (what a checkpoint saves).
    pub fn pairs(&self) -> impl Iterator<Item = (&Tensor, f32)> {
        self.items.iter().map(|(t, r)| (t, *r))
    }

    /// Appends a pair, dropping the oldest when full (a no-op at capacity 0).
    pub fn push(&mut self, image: Tensor, reward: f32) {
        if self.capacity == 0 {
            return;
        }
        if self.items.len() == self.capacity {
            self.items.pop_front();
        }
        self.items.push_back((image, reward));
    }

    /// `n` pairs drawn uniformly with replacement (none if empty).
    pub fn sample(&self, n: usize, rng: &mut impl Rng) -> Vec<(&Tensor, f32)> {
        if self.items.is_empty() {
            return Vec::new();
        }
        (0..n)
            .map(|_| {
                let (t, r) = &self.items[rng.gen_range(0..self.items.len())];
                (t, *r)
            })
            .collect()
    }
}

/// One Adam step of `mean_i (E(image_i) − target_i)²`; returns the loss before the step.
pub fn value_regression_step(
    enn: &mut EvaluationNet,
    adam: &mut Adam,
    images: &Tensor,
    targets: &[f32],
) -> Result<f32> {
    let n = images.dims().first().copied().unwrap_or(0);
    if targets.len() != n || n == 0 {
        return Err(Error::shape(
            "value_regression_step",
            format!("{n} targets (one per image, at least one)"),
            format!("{}", targets.len()),
        ));
    }
    let target = Tensor::from_vec(targets.to_vec(), &[n, 1])?;
    enn_step(enn, adam, images, "value-rule loss", |tape, out| {
        let t = tape.constant(target);
        tape.mse(out.score, t)
    })
}

/// The value rule's update after one episode: `cfg.updates_per_episode` Adam steps on the
/// episode's states (target R) plus `cfg.replay_batch` replayed pairs each; then the episode's
/// states join the buffer. Returns the mean loss over the steps.
pub fn value_update(
    enn: &mut EvaluationNet,
    adam: &mut Adam,
    states: &[Tensor],
    reward: f32,
    buffer: &mut ReplayBuffer,
    cfg: &ValueConfig,
    rng: &mut impl Rng,
) -> Result<f32> {
    if states.is_empty() || cfg.updates_per_episode == 0 {
        return Ok(0.0);
    }
    let mut total = 0.0f64;
    for _ in 0..cfg.updates_per_episode {
        let replayed = buffer.sample(cfg.replay_batch, rng);
        let mut images: Vec<&Tensor> = states.iter().collect();
        let mut targets = vec![reward; states.len()];
        for (t, r) in replayed {
            images.push(t);
            targets.push(r);
        }
        let batch = concat_images(&images)?;
        total += value_regression_step(enn, adam, &batch, &targets)? as f64;
    }
    for s in states {
        buffer.push(s.clone(), reward);
    }
    Ok((total / cfg.updates_per_episode as f64) as f32)
}
