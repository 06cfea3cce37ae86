//! The reproduction study of issue 13, pre-registered in `docs/study.md`: calibration of the
//! regime (stage 1), ceilings of any evaluator (stage 2), variants of the ENN (stage 3),
//! confirmation on the test set (stage 4) and the verdict (stage 5).
//!
//! * [`rules`]: the thresholds, the selection rules and the verdict rule (pre-registered).
//! * [`design`]: the cells of every stage and what each trains.
//! * [`train`]: one (cell, seed) run, the evaluator-rate calibration and the ENN recipes.
//! * [`rows`]: `study.csv` (one row per cell and seed), resumption and merging.
//! * [`runner`]: the stages in order, sharded and resumable, with the selections carried
//!   forward.
//! * [`analysis`]: the paired statistics, the selections, the verdict and the report
//!   (`study.md`, `study.html`).
//!
//! The study is deterministic from [`StudyConfig::seed`]: every seed is an offset from it.

pub mod analysis;
pub mod design;
pub mod rows;
pub mod rules;
pub mod runner;
pub mod train;

pub use runner::{merge, run_study, StudyOptions, StudyStatus};

use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The study's named presets.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum StudyPreset {
    /// The pre-registered sizes.
    #[default]
    Default,
    /// Every stage on tiny sizes (CI; under a minute).
    Quick,
}

/// Every setting of the study (defaults: `docs/study.md`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StudyConfig {
    /// The preset the settings came from.
    pub preset: StudyPreset,
    /// The study seed; every other seed is an offset from it.
    pub seed: u64,
    /// MNIST folder (`None`: `data/mnist` or `$GI_MNIST_DIR`).
    pub data_dir: Option<PathBuf>,
    /// Use only the first this many training images (`None`: all 60,000).
    pub train_limit: Option<usize>,
    /// Use only the first this many test images (`None`: all 10,000).
    pub test_limit: Option<usize>,
    /// S_val: training images held out for selection.
    pub validation_images: usize,
    /// Images of a run's training set held out as an ENN's reward split.
    pub enn_reward_images: usize,
    /// Hidden width.
    pub width: usize,
    /// Stage 1's depths (hidden layers).
    pub depths: Vec<usize>,
    /// Stage 1's epochs (accuracy recorded after each).
    pub calibration_epochs: usize,
    /// The secondary regime (depth, epochs) reported beside the chosen one.
    pub secondary: (usize, usize),
    /// SGD learning rate.
    pub lr: f32,
    /// Mini-batch size.
    pub batch: usize,
    /// L1 strength of stage 4's `l1` arm.
    pub l1: f32,
    /// MLP seeds (offsets) of stage 1.
    pub calibration_seeds: Vec<u64>,
    /// MLP seeds of stage 2.
    pub ceiling_seeds: Vec<u64>,
    /// MLP seeds of stage 3.
    pub variant_seeds: Vec<u64>,
    /// ENN seeds of stage 3.
    pub variant_enn_seeds: Vec<u64>,
    /// MLP seeds of stage 4 (fresh).
    pub confirm_seeds: Vec<u64>,
    /// ENN seeds of stage 4 (fresh).
    pub confirm_enn_seeds: Vec<u64>,
    /// MLP seeds of the evaluator-rate calibration (step-0 ratios).
    pub ratio_seeds: Vec<u64>,
    /// The ρ grid (evaluator term / loss term at step 0).
    pub rho: Vec<f32>,
    /// Episodes of the `ref` ENN (the crate's default value rule).
    pub ref_episodes: usize,
    /// Steps per episode of the `ref` ENN.
    pub ref_steps: usize,
    /// Episodes of the value-rule ENNs (`onpolicy`, `all_layers`).
    pub value_episodes: usize,
    /// Steps per episode of the value-rule ENNs.
    pub value_steps: usize,
    /// A state every this many steps.
    pub value_record_every: usize,
    /// Steps from a state to its target.
    pub value_lookahead: usize,
    /// Reward images per target.
    pub value_reward_limit: usize,
}

impl StudyConfig {
    /// The settings of a preset.
    pub fn preset(preset: StudyPreset) -> StudyConfig {
        let range = |a: u64, b: u64| (a..b).collect::<Vec<_>>();
        let full = StudyConfig {
            preset,
            seed: 0,
            data_dir: None,
            train_limit: None,
            test_limit: None,
            validation_images: 10_000,
            enn_reward_images: 5_000,
            width: 100,
            depths: vec![1, 2, 3],
            calibration_epochs: 5,
            secondary: (1, 3),
            lr: 0.01,
            batch: 64,
            l1: 1e-4,
            calibration_seeds: range(0, 5),
            ceiling_seeds: range(10, 20),
            variant_seeds: range(20, 30),
            variant_enn_seeds: vec![1, 2],
            confirm_seeds: range(100, 120),
            confirm_enn_seeds: vec![101, 102],
            ratio_seeds: range(1000, 1005),
            rho: rules::RHO_GRID.to_vec(),
            ref_episodes: 100,
            ref_steps: 200,
            value_episodes: 40,
            value_steps: 600,
            value_record_every: 50,
            value_lookahead: 200,
            value_reward_limit: 2000,
        };
        match preset {
            StudyPreset::Default => full,
            StudyPreset::Quick => StudyConfig {
                train_limit: Some(3_000),
                test_limit: Some(1_000),
                validation_images: 1_000,
                enn_reward_images: 500,
                calibration_epochs: 2,
                secondary: (1, 1),
                calibration_seeds: range(0, 2),
                ceiling_seeds: range(10, 12),
                variant_seeds: range(20, 22),
                confirm_seeds: range(100, 103),
                ratio_seeds: range(1000, 1002),
                ref_episodes: 3,
                ref_steps: 40,
                value_episodes: 3,
                value_steps: 60,
                value_record_every: 10,
                value_lookahead: 20,
                value_reward_limit: 300,
                ..full
            },
        }
    }

    /// The absolute seed of an offset.
    pub fn seed_of(&self, offset: u64) -> u64 {
        self.seed.wrapping_add(offset)
    }
}
