//! Grad-Instructor: the Evaluation Neural Network (ENN), universal backpropagation, and the
//! rules that train the ENN (REINFORCE, Monte-Carlo value regression).
//!
//! * [`weight_image`](mod@weight_image): W1 → a small one-channel image (resize by 0.15, fixed gain).
//! * [`enn`]: the ENN, `EvaluationNet`, and its score and gradient with respect to W1.
//! * [`universal`]: one SGD step of the MLP plus the ENN's ascent term on W1.
//! * [`config`]: the configuration of ENN training (both rules) and its validation.
//! * [`episode`]: one episode — an MLP of the target's architecture trained under the frozen
//!   ENN, with decisions between candidate learning rates — and what the ENN can learn from it.
//! * [`rules`]: the REINFORCE and value rules and the one ENN update they share.
//! * [`trainer`]: the loop over episodes, and the state it carries (what resuming restores).
//! * [`checkpoint`]: that state on disk, and `train_enn_resumable`.
//! * [`variants`]: the reproduction study's step variants (inits, lr schedules, oracle,
//!   couplings of the evaluation).
//! * [`value_enn`]: value-rule ENN training on-policy or over every layer (the study).
//!
//! Data flows one way: `config` → `episode` → `rules` → `trainer` → `checkpoint`; no module
//! imports one to its right.
//!
//! The paper (arXiv 2406.10559) is available to us only as its abstract; every choice it does
//! not state is a configuration field whose default is documented as our reconstruction.

pub mod checkpoint;
pub mod config;
pub mod enn;
pub mod episode;
mod frozen;
pub mod rules;
pub mod trainer;
pub mod universal;
pub mod value_enn;
pub mod variants;
pub mod weight_image;

pub use checkpoint::{train_enn_resumable, Checkpoints};
pub use config::{EnnRule, EnnTrainingConfig};
pub use enn::{EnnOutput, EnnVars, EvaluationNet};
pub use episode::{policy, EpisodeLog};
pub use rules::reinforce::reinforce_step;
pub use rules::value::{value_update, ReplayBuffer, ValueConfig};
pub use trainer::{train_enn, TrainRng, TrainState, Trainer};
pub use universal::{at_step, universal_step, StepStats, UniversalConfig, DEFAULT_LE};
pub use weight_image::{
    pixel_variance, weight_image, weight_image_adjoint, weight_image_adjoint_block,
    weight_image_with, weight_images, ImageMode, InertColumns, W1Gradient, WeightImageConfig,
    DEFAULT_INERT_THRESHOLD,
};
