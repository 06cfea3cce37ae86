//! Universal backpropagation: one SGD step of the target MLP in which the first weight matrix
//! also climbs the frozen ENN's predicted accuracy.
//!
//! ```text
//! W1 ← W1 − η·m·∂L/∂W1 + λ_E·∂E(image(W1))/∂W1
//! θ  ← θ  − η·m·∂L/∂θ        for every other MLP parameter θ
//! ```
//!
//! with L the mini-batch cross-entropy (plus an optional L1 penalty), η the learning rate, m a
//! per-step multiplier (the REINFORCE candidates use it), E the ENN's score and λ_E the
//! evaluation rate `le`. The sign is `+` because E is a predicted *accuracy*: the step ascends
//! it. Both terms are evaluated at the same (pre-step) W1. The ENN is never updated here.
//!
//! ## Choosing `le` (measured, `cargo test --release --test instructor -- --ignored --nocapture
//! universal_norm_ratio`)
//!
//! For a PyTorch-default-init 784-100-10 ReLU MLP, one batch of 64, η = 0.01, m = 1, the
//! loss term ‖η ∂L/∂W1‖ and the ENN term ‖∂E/∂W1‖ (λ_E = 1) at step 0 were measured for a
//! fresh ENN and for an ENN trained by [`train_enn`](super::reinforce::train_enn); see
//! [`DEFAULT_LE`] for the figures and the choice.

use super::enn::EvaluationNet;
use crate::error::{Error, Result};
use crate::nn::Mlp;
use crate::tensor::Tensor;

/// Default evaluation rate λ_E.
///
/// Measured at step 0 on MNIST (784-100-10 ReLU MLP, PyTorch default init, one batch of 64,
/// η = 0.01, m = 1, λ_E = 1; `cargo test --release --test instructor -- --ignored --nocapture
/// universal_norm_ratio` for the fresh ENN, the trained ENNs from the REINFORCE / value runs
/// of the reconstruction report):
///
/// | ENN | ‖η ∂L/∂W1‖ | ‖∂E/∂W1‖ | ratio at λ_E = 1 |
/// |---|---|---|---|
/// | fresh (5 MLP seeds) | 5.2e-3 … 6.8e-3 | 1.20e-2 … 1.22e-2 | 1.8 … 2.3 |
/// | REINFORCE-trained, 100 episodes | 5.7e-3 | 1.8e-2 | 3.2 |
/// | value-trained, 100 episodes | 5.7e-3 | 5.7e-2 | 10.1 |
///
/// λ_E = 0.05 puts the ENN term at 0.09–0.5× the loss term across these ENNs, inside the
/// 0.1–1× band we aimed for (the fresh ENN sits at its lower edge). The value-trained ENN's
/// gradient is larger because its output varies strongly with W1's magnitude.
pub const DEFAULT_LE: f32 = 0.05;

/// Hyperparameters of a universal-backpropagation step.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct UniversalConfig {
    /// Learning rate η of the loss term.
    pub lr: f32,
    /// Evaluation rate λ_E of the ENN term (0 makes the step plain SGD).
    pub le: f32,
    /// L1 penalty λ on the MLP's weight matrices (0 disables).
    pub l1: f32,
}

impl Default for UniversalConfig {
    /// η = 0.01 (the REINFORCE episodes' rate), λ_E = [`DEFAULT_LE`], no L1.
    fn default() -> Self {
        UniversalConfig {
            lr: 0.01,
            le: DEFAULT_LE,
            l1: 0.0,
        }
    }
}

/// What one step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mini-batch loss before the step.
    pub loss: f32,
    /// ENN score of W1 before the step.
    pub score: f32,
    /// ‖η·m·∂L/∂W1‖ (Frobenius).
    pub loss_term_norm: f32,
    /// ‖λ_E·∂E/∂W1‖ (Frobenius).
    pub enn_term_norm: f32,
}

fn norm(t: &Tensor) -> f32 {
    t.data()
        .iter()
        .map(|&v| (v as f64) * (v as f64))
        .sum::<f64>()
        .sqrt() as f32
}

fn non_finite(what: impl Into<String>) -> Error {
    Error::NonFinite {
        run: "universal-step".into(),
        step: 0,
        what: what.into(),
    }
}

/// Re-labels a [`Error::NonFinite`] with the caller's run name and step (other errors pass).
pub fn at_step(err: Error, run: &str, step: usize) -> Error {
    match err {
        Error::NonFinite { what, .. } => Error::NonFinite {
            run: run.to_string(),
            step,
            what,
        },
        e => e,
    }
}

/// One universal-backpropagation step on the batch `x` (batch × inputs) with `labels`.
///
/// The effective learning rate is `cfg.lr · lr_mult`; the ENN term is not multiplied by
/// `lr_mult`. Nothing is modified when the loss, a gradient or the ENN's gradient is NaN or
/// infinite: the step returns [`Error::NonFinite`] (run `"universal-step"`, step 0; relabel with
/// [`at_step`]).
pub fn universal_step(
    mlp: &mut Mlp,
    enn: &EvaluationNet,
    x: &Tensor,
    labels: &[u32],
    cfg: &UniversalConfig,
    lr_mult: f32,
) -> Result<StepStats> {
    // A NaN weight can hide from the loss (ReLU's `max(x, 0)` maps NaN to 0) and from the
    // ENN (the bilinear taps read only some of W1), so the parameters are checked directly.
    for (i, p) in mlp.params().into_iter().enumerate() {
        if !p.all_finite() {
            let kind = if i % 2 == 0 { "weight" } else { "bias" };
            return Err(non_finite(format!("layer {} {kind}", i / 2)));
        }
    }
    let (loss, grads) = mlp.loss_and_grads(x, labels, cfg.l1)?;
    if !loss.is_finite() {
        return Err(non_finite("loss"));
    }
    for (i, g) in grads.iter().enumerate() {
        if !g.all_finite() {
            let kind = if i % 2 == 0 { "weight" } else { "bias" };
            return Err(non_finite(format!("gradient of layer {} {kind}", i / 2)));
        }
    }
    let (score, de) = enn.score_and_grad_w1(&mlp.layers[0].weight)?;
    if !score.is_finite() || !de.all_finite() {
        return Err(non_finite("ENN gradient of W1"));
    }
    let lr = cfg.lr * lr_mult;
    let loss_term_norm = lr.abs() * norm(&grads[0]);
    let enn_term_norm = cfg.le.abs() * norm(&de);
    for (p, g) in mlp.params_mut().into_iter().zip(&grads) {
        // Same expression as `Sgd::step` without weight decay, so λ_E = 0 is bit-identical.
        p.data_mut()
            .iter_mut()
            .zip(g.data())
            .for_each(|(w, &gi)| *w -= lr * gi);
    }
    if cfg.le != 0.0 {
        mlp.layers[0].weight.add_scaled_(cfg.le, &de)?;
    }
    Ok(StepStats {
        loss,
        score,
        loss_term_norm,
        enn_term_norm,
    })
}
