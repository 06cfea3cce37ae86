//! Explanations of the ENN: Grad-CAM (what in a weight image drives its score) and a
//! lottery-ticket test of that heat.

pub mod enn_cam;
pub mod gradcam;
pub mod lottery;

pub use gradcam::{class_activation_map, CamMethod};
pub use lottery::{lottery_test, FinetuneConfig, LotteryConfig, LotteryRow, MaskKind};
