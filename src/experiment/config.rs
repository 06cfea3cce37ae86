//! The whole configuration of a comparison run ([`ExperimentConfig`]), its named presets,
//! and what is derived from it (the training configurations, the (arm, seed) work list).
//!
//! Every default lives here, in [`ExperimentConfig::preset`]; a front end (the `mnist_enn`
//! example) starts from a preset and overrides the fields it was given. The library knows no
//! command-line flag names: fields are named by their path in this struct (`mlp.lr`,
//! `enn.episodes`), and a front end maps those paths to its own flags.

use super::arm::{Arm, TrainConfig};
use crate::data::Dataset;
use crate::error::Result;
use crate::instructor::{
    EnnRule, EnnTrainingConfig, ImageMode, InertColumns, WeightImageConfig, DEFAULT_INERT_THRESHOLD,
};
use crate::nn::Activation;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// Pixels per MNIST image, the MLP's input width unless the data say otherwise.
pub const MNIST_INPUTS: usize = 784;
/// Classes of the target task, the MLP's output width.
pub const CLASSES: usize = 10;

/// A named set of defaults. `Default` is the configuration the README's results come from;
/// `Quick` is a smoke run (small subsets, 1 epoch, 2 seeds, short ENN training) for CI.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Preset {
    /// The full comparison.
    #[default]
    Default,
    /// A smoke run that finishes in seconds.
    Quick,
}

impl Preset {
    /// Every preset, for help texts.
    pub const ALL: [Preset; 2] = [Preset::Default, Preset::Quick];

    /// The preset's name.
    pub fn name(self) -> &'static str {
        match self {
            Preset::Default => "default",
            Preset::Quick => "quick",
        }
    }
}

/// The target MLP and its training.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MlpConfig {
    /// Hidden widths (the input and output widths come from the data).
    pub hidden: Vec<usize>,
    /// Hidden nonlinearity.
    #[serde(with = "activation_name")]
    pub activation: Activation,
    /// Passes over the training set.
    pub epochs: usize,
    /// SGD learning rate.
    pub lr: f32,
    /// Mini-batch size (also the ENN episodes' batch).
    pub batch: usize,
    /// L1 strength of the `l1` arm.
    pub l1: f32,
    /// ENN term weight λ_E of universal backprop (the `gi` arm and the ENN episodes).
    pub le: f32,
    /// Record the `gi` arm's gradient-term norms every this many steps (0: never).
    pub log_every: usize,
}

/// Which (arm, seed) pairs this process runs: those whose index in the full work list is
/// `index` modulo `count`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Shard {
    /// This shard, `0 <= index < count`.
    pub index: u64,
    /// Number of shards.
    pub count: u64,
}

/// The ENN: loaded from a file, or trained (the fields of [`EnnTrainingConfig`] a run varies).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EnnConfig {
    /// Reuse a trained ENN (safetensors) instead of training one.
    pub load: Option<PathBuf>,
    /// The training rule.
    #[serde(with = "rule_name")]
    pub rule: EnnRule,
    /// Training episodes.
    pub episodes: usize,
    /// MLP steps per episode.
    pub steps_per_episode: usize,
    /// Steps between decisions.
    pub decide_every: usize,
    /// Policy temperature τ.
    pub tau: f32,
    /// Seed of the ENN's init and episodes.
    pub seed: u64,
    /// A checkpoint every this many episodes (0: only after the last).
    pub checkpoint_every: usize,
    /// Validation images used for an episode's reward (0: all of the split).
    pub val_limit: usize,
    /// Images of the training set held out as the ENN's validation split (at most half).
    pub validation_images: usize,
    /// How the ENN's image reads W1 (bilinear: PyTorch's default, 9% of W1; area: all of it).
    pub image_mode: ImageMode,
    /// Zero W1's inert input columns (pixel variance over the training set below
    /// `inert_threshold`) before the resize.
    pub mask_inert: bool,
    /// The variance threshold of an inert column (pixels in [0, 1]); also the threshold of
    /// the coverage figures' "inert columns".
    pub inert_threshold: f64,
}

/// Grad-CAM pictures and the lottery-ticket test.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainConfig {
    /// Run them at all.
    pub enabled: bool,
    /// Percentages of W1 kept by the lottery masks.
    pub lottery_percents: Vec<f64>,
    /// Draws per MLP and percentage of each random mask kind (random, rolled, permuted).
    pub lottery_random_masks: usize,
    /// Untrained MLPs (seeds `seed_start..`) the lottery study runs over.
    pub lottery_mlps: u64,
    /// Fine-tuning SGD steps after masking.
    pub finetune_steps: usize,
}

/// The best-ENN prediction study.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PredictConfig {
    /// ENNs trained for the study (0: no study).
    pub enns: usize,
    /// Episodes per ENN (`None`: a quarter of `enn.episodes`, at least 2).
    pub episodes: Option<usize>,
    /// MLP seeds of each ENN's downstream runs.
    pub seeds: u64,
    /// Init scales of the held-out MLP states.
    pub held_out_scales: Vec<f32>,
    /// Training lengths (steps) of the held-out MLP states.
    pub held_out_lengths: Vec<usize>,
}

/// Where the data come from and how much of it is used.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// MNIST directory (`None`: `data/mnist` or `$GI_MNIST_DIR`, see `data::Mnist::locate`).
    pub dir: Option<PathBuf>,
    /// Use only the first this many training images.
    pub train_limit: Option<usize>,
    /// Use only the first this many test images.
    pub test_limit: Option<usize>,
}

/// Everything a comparison run depends on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExperimentConfig {
    /// The preset the other fields started from (recorded, not consulted).
    pub preset: Preset,
    /// The target network and its training.
    pub mlp: MlpConfig,
    /// The arms compared, in report order.
    pub arms: Vec<Arm>,
    /// Seeds per arm.
    pub seeds: u64,
    /// First seed.
    pub seed_start: u64,
    /// Which part of the work list this process runs.
    pub shard: Shard,
    /// The ENN.
    pub enn: EnnConfig,
    /// Grad-CAM and the lottery test.
    pub explain: ExplainConfig,
    /// The best-ENN study.
    pub predict: PredictConfig,
    /// The data.
    pub data: DataConfig,
    /// Runs trained in parallel.
    pub jobs: usize,
    /// Memory the run may use, in bytes (`None`: `MemAvailable` of `/proc/meminfo`); see
    /// [`budget`](super::budget). Run-local, so not serialized.
    #[serde(skip)]
    pub max_memory: Option<u64>,
}

impl Default for ExperimentConfig {
    fn default() -> Self {
        ExperimentConfig::preset(Preset::Default)
    }
}

impl ExperimentConfig {
    /// The configuration of a preset: the one place where defaults are written.
    pub fn preset(preset: Preset) -> ExperimentConfig {
        let train = TrainConfig::default();
        let enn = EnnTrainingConfig::default();
        let lottery = crate::explain::LotteryConfig::default();
        let mut c = ExperimentConfig {
            preset,
            mlp: MlpConfig {
                hidden: train.sizes[1..train.sizes.len() - 1].to_vec(),
                activation: train.activation,
                epochs: train.epochs,
                lr: train.lr,
                batch: train.batch,
                l1: train.l1_lambda,
                le: train.le,
                log_every: train.log_every,
            },
            arms: Arm::ALL.to_vec(),
            seeds: 10,
            seed_start: 0,
            shard: Shard { index: 0, count: 1 },
            enn: EnnConfig {
                load: None,
                rule: enn.rule,
                episodes: enn.episodes,
                steps_per_episode: enn.steps_per_episode,
                decide_every: enn.decide_every,
                tau: enn.tau,
                seed: 0,
                checkpoint_every: enn.checkpoint_every,
                val_limit: enn.val_limit,
                validation_images: 10000,
                image_mode: ImageMode::Bilinear,
                mask_inert: false,
                inert_threshold: DEFAULT_INERT_THRESHOLD,
            },
            explain: ExplainConfig {
                enabled: true,
                lottery_percents: lottery.percents,
                lottery_random_masks: lottery.n_random,
                lottery_mlps: 10,
                finetune_steps: lottery.finetune.steps,
            },
            predict: PredictConfig {
                enns: 8,
                episodes: None,
                seeds: 2,
                held_out_scales: vec![0.5, 1.0, 2.0, 3.0],
                held_out_lengths: vec![0, 50, 200, 600],
            },
            data: DataConfig {
                dir: None,
                train_limit: None,
                test_limit: None,
            },
            jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_memory: None,
        };
        if preset == Preset::Quick {
            c.data.train_limit = Some(6000);
            c.data.test_limit = Some(2000);
            c.seeds = 2;
            c.mlp.epochs = 1;
            c.enn.episodes = 4;
            c.enn.steps_per_episode = 60;
            c.enn.decide_every = 20;
            c.enn.val_limit = 1000;
            c.enn.validation_images = 1000;
            c.explain.lottery_percents = vec![10.0, 50.0];
            c.explain.lottery_random_masks = 1;
            c.explain.lottery_mlps = 3;
            c.explain.finetune_steps = 50;
            c.predict.enns = 2;
            c.predict.seeds = 1;
            c.predict.held_out_scales = vec![0.5, 2.0];
            c.predict.held_out_lengths = vec![0, 30];
        }
        c
    }

    /// Layer widths of the target MLP for inputs of `input_dim` values.
    pub fn sizes(&self, input_dim: usize) -> Vec<usize> {
        std::iter::once(input_dim)
            .chain(self.mlp.hidden.iter().copied())
            .chain(std::iter::once(CLASSES))
            .collect()
    }

    /// The configuration of one (arm, seed) run.
    pub fn train_config(&self, input_dim: usize) -> TrainConfig {
        TrainConfig {
            sizes: self.sizes(input_dim),
            activation: self.mlp.activation,
            epochs: self.mlp.epochs,
            lr: self.mlp.lr,
            batch: self.mlp.batch,
            l1_lambda: self.mlp.l1,
            le: self.mlp.le,
            log_every: self.mlp.log_every,
        }
    }

    /// The configuration of the main ENN's training: the episodes' MLP uses the target's
    /// batch, learning rate, λ_E, hidden widths and activation (issue 12).
    pub fn reinforce_config(&self) -> EnnTrainingConfig {
        let mut r = EnnTrainingConfig {
            rule: self.enn.rule,
            episodes: self.enn.episodes,
            steps_per_episode: self.enn.steps_per_episode,
            batch: self.mlp.batch,
            decide_every: self.enn.decide_every,
            tau: self.enn.tau,
            hidden: self.mlp.hidden.clone(),
            activation: self.mlp.activation,
            val_limit: self.enn.val_limit,
            checkpoint_every: self.enn.checkpoint_every,
            ..EnnTrainingConfig::default()
        };
        r.universal.lr = self.mlp.lr;
        r.universal.le = self.mlp.le;
        r
    }

    /// The image configuration of every ENN this run trains: the mode, and with
    /// `enn.mask_inert` the inert columns of `train` (computed from its pixel variance).
    pub fn image_config(&self, train: &Dataset) -> Result<WeightImageConfig> {
        let inert = if self.enn.mask_inert {
            Some(InertColumns::from_data(
                &train.images,
                train.dim,
                self.enn.inert_threshold,
            )?)
        } else {
            None
        };
        Ok(WeightImageConfig {
            inert,
            ..WeightImageConfig::with_mode(self.enn.image_mode)
        })
    }

    /// Episodes per ENN of the prediction study.
    pub fn predict_episodes(&self) -> usize {
        self.predict
            .episodes
            .unwrap_or((self.enn.episodes / 4).max(2))
    }

    /// The seeds of the comparison, `seed_start..seed_start + seeds`.
    pub fn seed_list(&self) -> impl Iterator<Item = u64> + '_ {
        (0..self.seeds).map(move |s| self.seed_start + s)
    }

    /// This shard's (arm, seed) pairs, arm-major.
    pub fn work(&self) -> Vec<(Arm, u64)> {
        self.arms
            .iter()
            .flat_map(|&arm| self.seed_list().map(move |s| (arm, s)))
            .enumerate()
            .filter(|(i, _)| *i as u64 % self.shard.count == self.shard.index)
            .map(|(_, w)| w)
            .collect()
    }

    /// Whether the outputs about the ENN (Grad-CAM and the lottery test, the prediction
    /// study) run: only beside the `gi` arm, whose ENN they study.
    pub fn runs_enn_outputs(&self) -> bool {
        self.arms.contains(&Arm::GradInstructor)
    }

    /// Whether the run needs the main ENN: the `gi` arm uses it (and the explanations study it).
    pub fn needs_enn(&self) -> bool {
        self.arms.contains(&Arm::GradInstructor)
    }

    /// The configuration as JSON without what may differ between the shards of one
    /// experiment (`shard`, `jobs`): what [`fingerprint`](Self::fingerprint) hashes and what
    /// `merge` compares.
    pub fn comparable_json(&self) -> serde_json::Value {
        let mut v = serde_json::to_value(self).expect("a config serializes to JSON");
        comparable(&mut v);
        v
    }

    /// CRC-32 (hex) of [`comparable_json`](Self::comparable_json): recorded in every
    /// `summary.json` and ENN file, so a file can be traced to the configuration that made it.
    pub fn fingerprint(&self) -> String {
        fingerprint_of(&self.comparable_json())
    }

    /// One line describing the target-network configuration, for logs and the report.
    pub fn describe(&self, input_dim: usize) -> String {
        format!(
            "MLP {:?}, {} epochs, lr {}, batch {}, seeds {}..{} (shard {}/{})",
            self.sizes(input_dim),
            self.mlp.epochs,
            self.mlp.lr,
            self.mlp.batch,
            self.seed_start,
            self.seed_start + self.seeds,
            self.shard.index,
            self.shard.count
        )
    }
}

/// CRC-32 (8 hex digits) of a comparable configuration's compact JSON text: what
/// [`ExperimentConfig::fingerprint`] returns for its own [`comparable_json`](ExperimentConfig::comparable_json),
/// and what `merge` computes from a `summary.json`'s recorded `config` (after [`comparable`]).
/// JSON objects keep their keys sorted and numbers print in their shortest round-trip form,
/// so a configuration written and read back has the same fingerprint.
pub fn fingerprint_of(comparable: &serde_json::Value) -> String {
    let mut crc = flate2::Crc::new();
    crc.update(comparable.to_string().as_bytes());
    format!("{:08x}", crc.sum())
}

/// Removes the run-local fields (`shard`, `jobs`) from a serialized config.
pub fn comparable(config: &mut serde_json::Value) {
    if let Some(m) = config.as_object_mut() {
        m.remove("shard");
        m.remove("jobs");
    }
}

/// `Activation` by name (`relu`, ...), so configs read as text.
mod activation_name {
    use crate::nn::Activation;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(a: &Activation, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match a {
            Activation::Relu => "relu",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Identity => "identity",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Activation, D::Error> {
        let s = String::deserialize(d)?;
        Activation::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// `EnnRule` by name (`reinforce`, `value`).
mod rule_name {
    use crate::instructor::EnnRule;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(r: &EnnRule, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(match r {
            EnnRule::Reinforce => "reinforce",
            EnnRule::Value => "value",
        })
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<EnnRule, D::Error> {
        let s = String::deserialize(d)?;
        EnnRule::parse(&s).map_err(serde::de::Error::custom)
    }
}
