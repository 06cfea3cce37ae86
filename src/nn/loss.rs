//! Losses and penalties as tape recordings.

use crate::autodiff::{Tape, Var};
use crate::error::{Error, Result};

/// Mean softmax cross-entropy of logits (batch × classes) against integer labels.
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
