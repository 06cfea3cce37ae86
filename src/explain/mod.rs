//! Explanations of the ENN: Grad-CAM (what in a weight image drives its score) and a
//! lottery-ticket test of that heat.
//!
//! * [`gradcam`]: Grad-CAM (Selvaraju et al., ICCV 2017) and Grad-CAM++ (Chattopadhyay et
//!   al., WACV 2018) from any layer's activations and the score's gradient with respect to
//!   them: `α_k = mean_ij ∂E/∂A_k[i,j]`, `cam = ReLU(Σ_k α_k A_k)`.
//! * [`enn_cam`]: the same on the Evaluation Neural Network, mapped from its last convolution
//!   to the 15×117 weight image and back to W1 through the image's adjoint (heat only where the
//!   ENN reads), beside `|W1 ⊙ ∂E/∂W1|`; per-input-pixel and per-hidden-unit sums.
//! * [`coverage`]: which fraction of W1 the ENN's gradient reaches, how much of it lands on
//!   inert input columns, and the logit's gradient norm beside the sigmoid's.
//! * [`lottery`]: keep the top p% of an untrained W1 by heat, by |w| or at random; accuracy
//!   with no training and after a short fine-tuning (our quantitative version of the paper's
//!   qualitative claim).
//!
//! This layer sits above [`crate::instructor`] and [`crate::data`]; it only reads models.

pub mod coverage;
pub mod enn_cam;
pub mod gradcam;
pub mod lottery;

pub use coverage::{
    enn_coverage, gradient_coverage, gradient_norms, mean_coverage, Coverage, CoverageSummary,
    GradientNorms,
};
pub use gradcam::{class_activation_map, CamMethod};
pub use lottery::{lottery_test, FinetuneConfig, LotteryConfig, LotteryRow, MaskKind};
