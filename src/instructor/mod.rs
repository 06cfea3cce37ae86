//! Grad-Instructor: the Evaluation Neural Network (ENN), universal backpropagation, and the
//! rules that train the ENN (REINFORCE, Monte-Carlo value regression).
//!
//! * [`weight_image`](mod@weight_image): W1 → a small one-channel image (resize by 0.15, fixed gain).
//! * [`enn`]: the ENN, `EvaluationNet`, and its score and gradient with respect to W1.
//! * [`universal`]: one SGD step of the MLP plus the ENN's ascent term on W1.
//! * [`reinforce`]: episodes of MLP training with ENN-guided decisions; REINFORCE update and
//!   the `train_enn` driver for both rules.
//! * [`value`]: the value rule and its replay buffer.
//! * [`checkpoint`]: the state of ENN training on disk (one safetensors file), for resuming.
//!
//! The paper (arXiv 2406.10559) is available to us only as its abstract; every choice it does
//! not state is a configuration field whose default is documented as our reconstruction.

pub mod checkpoint;
pub mod enn;
pub mod reinforce;
pub mod universal;
pub mod value;
pub mod weight_image;

pub use enn::{EnnOutput, EnnVars, EvaluationNet};
pub use reinforce::{
    policy, reinforce_step, train_enn, train_enn_resumable, EnnData, EnnRule, EpisodeLog,
    ReinforceConfig,
};
pub use universal::{at_step, universal_step, StepStats, UniversalConfig, DEFAULT_LE};
pub use value::{value_update, ReplayBuffer, ValueConfig};
pub use weight_image::{
    pixel_variance, weight_image, weight_image_adjoint, weight_image_with, weight_images,
    ImageMode, InertColumns, WeightImageConfig, DEFAULT_INERT_THRESHOLD,
};
