//! The configuration of ENN training, for both rules, and its one validation.
//!
//! Every choice the paper's abstract leaves open is a field here; the defaults are our
//! reconstruction (see [`episode`](super::episode) for what an episode does with them). The
//! struct is serde-(de)serializable so that a checkpoint records the configuration it was
//! written under and a resumed run compares the *deserialized* value with its own.

use super::rules::value::ValueConfig;
use super::universal::UniversalConfig;
use super::weight_image::{weight_images, WeightImageConfig};
use crate::error::{Error, Result};
use crate::nn::Activation;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

/// Which rule trains the ENN.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EnnRule {
    /// Policy gradient on the candidate choices ([`rules::reinforce`](super::rules::reinforce)).
    Reinforce,
    /// Regression of E(state) onto the episode's reward ([`rules::value`](super::rules::value)).
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

/// `nn::Activation` (an engine type, which knows nothing of serde) by its lowercase name.
#[derive(Serialize, Deserialize)]
#[serde(remote = "Activation", rename_all = "lowercase")]
enum ActivationDef {
    Relu,
    Sigmoid,
    Tanh,
    Identity,
}

/// Hyperparameters of ENN training. Defaults are our reconstruction; [`validate`] states
/// each field's range.
///
/// [`validate`]: EnnTrainingConfig::validate
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct EnnTrainingConfig {
    /// The update rule.
    pub rule: EnnRule,
    /// Number of episodes (≥ 1).
    pub episodes: usize,
    /// MLP steps per episode (decision branches count their steps).
    pub steps_per_episode: usize,
    /// Mini-batch size.
    pub batch: usize,
    /// The MLP's universal-backprop step (η, λ_E, L1).
    pub universal: UniversalConfig,
    /// A decision every this many steps, from step 0 (0: never).
    pub decide_every: usize,
    /// Learning-rate multipliers of the K candidates.
    pub lr_multipliers: Vec<f32>,
    /// Plain SGD steps in each candidate branch (1: the next step only).
    pub branch_steps: usize,
    /// Softmax temperature τ of the policy over ENN scores in [0, 1].
    pub tau: f32,
    /// Adam learning rate of the ENN.
    pub enn_lr: f32,
    /// Hidden widths of the episode MLP, input side first: the target's architecture, so
    /// that the ENN is trained on the network it will evaluate (`[100]`: 784-100-10).
    pub hidden: Vec<usize>,
    /// Nonlinearity of the episode MLP (the target's).
    #[serde(with = "ActivationDef")]
    pub activation: Activation,
    /// Range (lo, hi) of the factor s on PyTorch's default init bound: each episode draws
    /// s ~ U(lo, hi) and scales every layer's bound (W and b alike) by it; see the
    /// [`episode`](super::episode) docs for what the ENN can learn from that.
    pub init_scale_range: (f32, f32),
    /// Validation examples used for the reward (the first ones of the slice; 0: all).
    pub val_limit: usize,
    /// Divide the advantage R − b by the running standard deviation of R (REINFORCE).
    pub normalize_advantage: bool,
    /// The value rule's settings.
    pub value: ValueConfig,
    /// With a checkpoint folder: a checkpoint after every this many episodes and after the
    /// last (0: only after the last).
    pub checkpoint_every: usize,
}

impl Default for EnnTrainingConfig {
    /// Our reconstruction: the value rule, 100 episodes of 200 steps on a 784-100-10 ReLU
    /// MLP, K = 4 branches of 10 steps, τ = 1e-4.
    fn default() -> Self {
        EnnTrainingConfig {
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
            hidden: vec![100],
            activation: Activation::Relu,
            init_scale_range: (0.5, 3.0),
            val_limit: 5000,
            normalize_advantage: true,
            value: ValueConfig::default(),
            checkpoint_every: 10,
        }
    }
}

/// `Err` naming the field and why, as `EnnTrainingConfig: <field> ...`.
fn bad(reason: String) -> Result<()> {
    Err(Error::invalid("EnnTrainingConfig", reason))
}

fn positive(name: &str, v: usize) -> Result<()> {
    if v == 0 {
        return bad(format!("{name} must be at least 1, got 0"));
    }
    Ok(())
}

fn positive_finite(name: &str, v: f32) -> Result<()> {
    if !(v > 0.0 && v.is_finite()) {
        return bad(format!("{name} = {v} must be positive and finite"));
    }
    Ok(())
}

impl EnnTrainingConfig {
    /// The MLP's layer widths for `dim` inputs and `classes` outputs.
    pub fn mlp_sizes(&self, dim: usize, classes: usize) -> Vec<usize> {
        let mut sizes = Vec::with_capacity(self.hidden.len() + 2);
        sizes.push(dim);
        sizes.extend_from_slice(&self.hidden);
        sizes.push(classes);
        sizes
    }

    /// Checks every field's range, with a message naming the field. A configuration that
    /// passes can run: in particular each rule gets something to learn from (REINFORCE needs
    /// decisions between at least two candidates; the value rule recorded states and updates).
    pub fn validate(&self) -> Result<()> {
        positive("episodes", self.episodes)?;
        positive("steps_per_episode", self.steps_per_episode)?;
        positive("batch", self.batch)?;
        positive("branch_steps", self.branch_steps)?;
        if self.hidden.is_empty() || self.hidden.contains(&0) {
            return bad(format!(
                "hidden must list at least one positive width, got {:?}",
                self.hidden
            ));
        }
        positive_finite("tau", self.tau)?;
        positive_finite("enn_lr", self.enn_lr)?;
        positive_finite("universal.lr", self.universal.lr)?;
        if !self.universal.le.is_finite() {
            return bad(format!(
                "universal.le = {} must be finite",
                self.universal.le
            ));
        }
        if !(self.universal.l1 >= 0.0 && self.universal.l1.is_finite()) {
            return bad(format!(
                "universal.l1 = {} must be finite and >= 0",
                self.universal.l1
            ));
        }
        if self.lr_multipliers.is_empty() {
            return bad("lr_multipliers must hold at least one multiplier".into());
        }
        for &m in &self.lr_multipliers {
            positive_finite("every lr_multipliers entry", m)?;
        }
        let (lo, hi) = self.init_scale_range;
        if !(lo > 0.0 && lo <= hi && hi.is_finite()) {
            return bad(format!(
                "init_scale_range ({lo}, {hi}) must satisfy 0 < lo <= hi < inf"
            ));
        }
        self.validate_rule()
    }

    /// The rule-specific part of [`validate`](Self::validate).
    fn validate_rule(&self) -> Result<()> {
        match self.rule {
            EnnRule::Reinforce => {
                if self.decide_every == 0 || self.lr_multipliers.len() < 2 {
                    return bad(format!(
                        "the REINFORCE rule learns only from decisions: it needs decide_every \
                         >= 1 (got {}) and at least two lr_multipliers (got {})",
                        self.decide_every,
                        self.lr_multipliers.len()
                    ));
                }
            }
            EnnRule::Value => {
                positive("value.record_every", self.value.record_every)?;
                positive("value.updates_per_episode", self.value.updates_per_episode)?;
            }
        }
        Ok(())
    }

    /// Checks that the episode MLP's first weight matrix (`hidden[0]` × `dim`) makes an image
    /// the ENN can read under `image`, by building the image of a zero W1 of that shape: the
    /// image settings must fit W1 (e.g. an inert-column mask made for `dim` inputs) and the
    /// ENN needs at least 2 × 2 pixels (its max-pool halves them). With the default resize
    /// by 0.15 that is `hidden[0] >= 14` and `dim >= 14`.
    pub fn check_image(&self, dim: usize, image: &WeightImageConfig) -> Result<()> {
        let rows = self.hidden.first().copied().unwrap_or(0);
        let small = match image.image_size(rows, dim) {
            Ok((h, w)) => h < 2 || w < 2,
            Err(_) => true,
        };
        if small {
            let need = (1..=4096)
                .find(|&n| matches!(image.image_size(n, n), Ok((h, _)) if h >= 2))
                .map_or(String::new(), |n| format!("; both must be >= {n}"));
            return bad(format!(
                "the episode MLP's W1 is {rows} x {dim} (hidden[0] x inputs), which the weight \
                 image (resize by {}) shrinks below the 2 x 2 pixels the ENN needs{need}",
                image.resize_scale
            ));
        }
        let w1 = Tensor::zeros(&[rows, dim])?;
        weight_images(&[&w1], image).map(drop).map_err(|e| {
            Error::invalid(
                "EnnTrainingConfig",
                format!(
                    "the ENN's image settings do not fit the episode MLP's {rows} x {dim} W1: {e}"
                ),
            )
        })
    }
}
