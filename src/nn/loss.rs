//! Losses and penalties as tape recordings.
//!
//! * Cross-entropy of softmax probabilities, `L = (1/B) Σ_b −log softmax(z_b)[y_b]`, with
//!   gradient `(p − onehot)/B`; computed fused with the log-sum-exp trick (derivation in
//!   [`crate::autodiff::ops::loss`]).
//! * Mean squared error, `(1/N) Σ (a − t)²`, gradient `2(a − t)/N`.
//! * The L1 penalty `λ Σ |w|`, gradient `λ sign(w)` (a subgradient, 0 at 0).

use crate::autodiff::{Tape, Var};
use crate::error::{Error, Result};

/// Mean softmax cross-entropy of logits (batch × classes) against integer labels.
///
/// Equal logits mean a uniform guess, so the loss is `ln C` for C classes:
///
/// ```
/// use grad_instructor::nn::loss::cross_entropy;
/// use grad_instructor::{Tape, Tensor};
/// # fn main() -> grad_instructor::Result<()> {
/// let mut tape = Tape::new();
/// let z = tape.constant(Tensor::zeros(&[3, 10])?);
/// let l = cross_entropy(&mut tape, z, &[0, 4, 9])?;
/// assert!((tape.item(l)? - 10f32.ln()).abs() < 1e-6);
/// assert!(cross_entropy(&mut tape, z, &[10, 0, 0]).is_err()); // label out of range
/// # Ok(()) }
/// ```
pub fn cross_entropy(tape: &mut Tape<'_>, logits: Var, labels: &[u32]) -> Result<Var> {
    tape.softmax_cross_entropy(logits, labels)
}

/// Mean squared error.
pub fn mse(tape: &mut Tape<'_>, prediction: Var, target: Var) -> Result<Var> {
    tape.mse(prediction, target)
}

/// L1 penalty `λ Σ_w Σ |w|` over the given weights (a scalar). Its gradient is `λ sign(w)`.
pub fn l1_penalty(tape: &mut Tape<'_>, weights: &[Var], lambda: f32) -> Result<Var> {
    let mut total: Option<Var> = None;
    for &w in weights {
        let a = tape.abs(w);
        let s = tape.sum(a);
        total = Some(match total {
            None => s,
            Some(t) => tape.add(t, s)?,
        });
    }
    let total = total.ok_or_else(|| Error::invalid("l1_penalty", "no weights given"))?;
    Ok(tape.mul_scalar(total, lambda))
}
