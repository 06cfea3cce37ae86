//! Losses: the fused softmax cross-entropy and the mean squared error.
//!
//! | forward | adjoint contributions |
//! |---|---|
//! | `L = mean_b −log softmax(z_b)[y_b]` | `z̄_b += ḡ (p_b − onehot(y_b)) / B` (p saved by the forward pass) |
//! | `mean (a − t)²` | `ā += 2ḡ(a − t)/N`, `t̄ −= 2ḡ(a − t)/N` |
//!
//! ## Softmax cross-entropy, fused
//!
//! For logits z (B × C) and labels y, `p_b = softmax(z_b)` and `L = (1/B) Σ_b −log p_b[y_b]`.
//! Since `−log p_b[y] = −z_y + log Σ_c e^{z_c}`, its derivative in `z_c` is
//! `−[c = y] + e^{z_c} / Σ e = p_c − onehot(y)_c`, so
//!
//! ```text
//! ∂L/∂z_b = (p_b − onehot(y_b)) / B
//! ```
//!
//! The forward pass uses the log-sum-exp trick: with `m = max_c z_c`,
//! `log Σ_c e^{z_c} = m + log Σ_c e^{z_c − m}`. Every exponent is ≤ 0 (no overflow) and one
//! term is exactly 1 (the sum is ≥ 1, its log is finite), so the loss is finite for any finite
//! logits, where `log(softmax(z))` computed naively would give `log 0 = −∞`. Fusing also means
//! the backward rule reads the saved `p` instead of differentiating through exp, sum and log.
//!
//! ```
//! use grad_instructor::{Tape, Tensor};
//! # fn main() -> grad_instructor::Result<()> {
//! let mut tape = Tape::new();
//! let z = tape.leaf(Tensor::from_vec(vec![0.0, 0.0, 1000.0, 0.0], &[2, 2])?, true);
//! let loss = tape.softmax_cross_entropy(z, &[0, 0])?;
//! // Row 0: p = (½, ½), −log ½ = ln 2. Row 1: label 0 has p ≈ 1, −log p ≈ 0 (no overflow).
//! assert!((tape.item(loss)? - std::f32::consts::LN_2 / 2.0).abs() < 1e-6);
//! let g = tape.backward(loss)?;
//! // (p − onehot)/B with B = 2: row 0 (½ − 1, ½)/2, row 1 ≈ (0, 0).
//! assert_eq!(g.get(z).unwrap().data(), &[-0.25, 0.25, 0.0, 0.0]);
//! # Ok(()) }
//! ```
//!

use crate::autodiff::op::{Op, Var};
use crate::autodiff::tape::{Adjoints, Tape};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

/// Forward passes.
impl Tape<'_> {
    /// Mean softmax cross-entropy of `logits` (batch × classes) against integer labels,
    /// fused and computed with the log-sum-exp trick:
    /// `−log p[y] = log Σ_c e^{z_c − max z} − (z_y − max z)`, so no exponential overflows.
    pub fn softmax_cross_entropy(&mut self, logits: Var, labels: &[u32]) -> Result<Var> {
        let z = self.value(logits);
        let (batch, classes) = z.matrix_dims("softmax_cross_entropy")?;
        if labels.len() != batch {
            return Err(Error::shape(
                "softmax_cross_entropy",
                format!("{batch} labels"),
                format!("{}", labels.len()),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::invalid(
                "softmax_cross_entropy",
                format!("label {bad} >= {classes} classes"),
            ));
        }
        let mut probs = vec![0.0f32; batch * classes];
        let mut loss = 0.0f64;
        for (b, &label) in labels.iter().enumerate() {
            let row = &z.data()[b * classes..(b + 1) * classes];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let p = &mut probs[b * classes..(b + 1) * classes];
            let mut sum = 0.0f32;
            for (pc, &zc) in p.iter_mut().zip(row) {
                *pc = (zc - max).exp();
                sum += *pc;
            }
            p.iter_mut().for_each(|pc| *pc /= sum);
            loss += (sum.ln() - (row[label as usize] - max)) as f64;
        }
        let y = Tensor::scalar((loss / batch as f64) as f32);
        Ok(self.push(
            Op::SoftmaxCrossEntropy {
                logits,
                labels: labels.to_vec(),
                probs,
            },
            y,
        ))
    }

    /// Mean squared error `mean((a − target)²)`.
    pub fn mse(&mut self, a: Var, target: Var) -> Result<Var> {
        let d = self.value(a).sub(self.value(target))?;
        let y = Tensor::scalar(
            d.data()
                .iter()
                .map(|&x| (x as f64) * (x as f64))
                .sum::<f64>() as f32
                / d.numel() as f32,
        );
        Ok(self.push(Op::Mse { a, target }, y))
    }
}

// Backward rules.

/// `L = (1/B) Σ_b −log p_b[y_b]`  ⇒  `∂L/∂z_b = (p_b − onehot(y_b)) / B`.
pub(crate) fn softmax_cross_entropy_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    logits: Var,
    labels: &[u32],
    probs: &[f32],
) -> Result<()> {
    let batch = labels.len();
    let classes = probs.len() / batch;
    let scale = g.data()[0] / batch as f32;
    adj.accumulate(logits, |dz| {
        for (bi, &label) in labels.iter().enumerate() {
            let row = bi * classes;
            for c in 0..classes {
                let onehot = (c == label as usize) as u8 as f32;
                dz[row + c] += scale * (probs[row + c] - onehot);
            }
        }
    });
    Ok(())
}

/// `L = (1/N) Σ (a − t)²`  ⇒  `∂a = 2(a − t)/N`, `∂t = −2(a − t)/N`.
pub(crate) fn mse_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    a: Var,
    target: Var,
) -> Result<()> {
    let (ad, td) = (adj.value(a).data(), adj.value(target).data());
    let scale = 2.0 * g.data()[0] / ad.len() as f32;
    adj.accumulate(a, |da| {
        da.iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d += scale * (ad[i] - td[i]))
    });
    adj.accumulate(target, |dt| {
        dt.iter_mut()
            .enumerate()
            .for_each(|(i, d)| *d -= scale * (ad[i] - td[i]))
    });
    Ok(())
}
