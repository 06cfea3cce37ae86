//! Explanations of the ENN: Grad-CAM (what in a weight image drives its score) and a
//! lottery-ticket test of that heat.
//!
//! * [`gradcam`]: Grad-CAM (Selvaraju et al., ICCV 2017) and Grad-CAM++ (Chattopadhyay et
//!   al., WACV 2018) from any layer's activations and the score's gradient with respect to
//!   them: `α_k = mean_ij ∂E/∂A_k[i,j]`, `cam = ReLU(Σ_k α_k A_k)`.
//! * [`enn_cam`]: the same on the Evaluation Neural Network, mapped back from its last
//!   convolution to the 15×117 weight image and to the full W1, with per-input-pixel and
//!   per-hidden-unit views.
//! * [`lottery`]: keep the top p% of an untrained W1 by heat, by |w| or at random; accuracy
//!   with no training and after a short fine-tuning (our quantitative version of the paper's
//!   qualitative claim).
//!
//! This layer sits above [`crate::instructor`] and [`crate::data`]; it only reads models.

pub mod enn_cam;
pub mod gradcam;
pub mod lottery;

pub use gradcam::{class_activation_map, CamMethod};
pub use lottery::{lottery_test, FinetuneConfig, LotteryConfig, LotteryRow, MaskKind};
