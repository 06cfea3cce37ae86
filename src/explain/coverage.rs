//! What the ENN reads of W1 and how hard it pushes: coverage of its gradient and the norm of
//! the logit's gradient beside the sigmoid's.
//!
//! * [`enn_coverage`]: the fraction of W1's entries with `∂E/∂W1 ≠ 0` (with the bilinear
//!   image at most the ≤ 4·h·w entries its taps read) and the share of `‖∂E/∂W1‖²` on input
//!   columns whose pixel variance over the training set is below a threshold — weights whose
//!   input is (almost) always the same, so that moving them changes (almost) nothing the MLP
//!   computes.
//! * [`gradient_norms`]: `E = σ(z)`, so `∂E/∂W1 = σ′(z) ∂z/∂W1` with `σ′ = E(1 − E)`: once
//!   the ENN is confident (E near 0 or 1) the score's gradient shrinks whatever the features
//!   say. `‖∂z/∂W1‖` is the part that reflects what the ENN reads; plot both to tell a stage-
//!   dependent push from sigmoid saturation.

use crate::autodiff::Tape;
use crate::error::{Error, Result};
use crate::instructor::{weight_image_with, EvaluationNet};
use crate::tensor::Tensor;

/// How much of W1 an ENN's gradient reaches (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct Coverage {
    /// Entries of W1.
    pub entries: usize,
    /// Entries with `∂E/∂W1 ≠ 0`.
    pub reached: usize,
    /// `‖∂E/∂W1‖²` (f64 sum of f32 squares).
    pub grad_sq: f64,
    /// The part of `grad_sq` on the inert columns.
    pub inert_grad_sq: f64,
    /// Columns counted as inert (variance below `threshold`).
    pub inert_columns: usize,
    /// The variance threshold.
    pub threshold: f64,
}

impl Coverage {
    /// `reached / entries`.
    pub fn reached_fraction(&self) -> f64 {
        self.reached as f64 / self.entries.max(1) as f64
    }

    /// `inert_grad_sq / grad_sq` (0 when the gradient is all zero).
    pub fn inert_share(&self) -> f64 {
        if self.grad_sq > 0.0 {
            self.inert_grad_sq / self.grad_sq
        } else {
            0.0
        }
    }
}

/// Coverage of the gradient `g` (shaped like W1, rows × inputs) given each input column's
/// pixel variance.
pub fn gradient_coverage(g: &Tensor, variance: &[f64], threshold: f64) -> Result<Coverage> {
    let (_, cols) = g.matrix_dims("gradient_coverage")?;
    if variance.len() != cols {
        return Err(Error::shape(
            "gradient_coverage",
            format!("{cols} column variances"),
            format!("{}", variance.len()),
        ));
    }
    let inert: Vec<bool> = variance.iter().map(|&v| v < threshold).collect();
    let (mut reached, mut grad_sq, mut inert_grad_sq) = (0usize, 0.0f64, 0.0f64);
    for row in g.data().chunks_exact(cols) {
        for (&x, &dead) in row.iter().zip(&inert) {
            let sq = (x as f64) * (x as f64);
            reached += usize::from(x != 0.0);
            grad_sq += sq;
            if dead {
                inert_grad_sq += sq;
            }
        }
    }
    Ok(Coverage {
        entries: g.numel(),
        reached,
        grad_sq,
        inert_grad_sq,
        inert_columns: inert.iter().filter(|&&d| d).count(),
        threshold,
    })
}

/// [`gradient_coverage`] of the frozen ENN's `∂E/∂W1` at `w1`, through the ENN's own image
/// configuration.
pub fn enn_coverage(
    enn: &EvaluationNet,
    w1: &Tensor,
    variance: &[f64],
    threshold: f64,
) -> Result<Coverage> {
    let (_, g) = enn.score_and_grad_w1(w1)?;
    gradient_coverage(&g, variance, threshold)
}

/// Coverage of one ENN averaged over several W1s.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CoverageSummary {
    /// Mean of [`Coverage::reached_fraction`].
    pub reached_fraction: f64,
    /// Mean of [`Coverage::inert_share`].
    pub inert_share: f64,
    /// Number of W1s.
    pub n: usize,
}

/// [`enn_coverage`] of `enn` at each of `w1s`, averaged.
pub fn mean_coverage(
    enn: &EvaluationNet,
    w1s: &[&Tensor],
    variance: &[f64],
    threshold: f64,
) -> Result<CoverageSummary> {
    if w1s.is_empty() {
        return Err(Error::invalid("mean_coverage", "no W1 to measure"));
    }
    let covs = w1s
        .iter()
        .map(|w| enn_coverage(enn, w, variance, threshold))
        .collect::<Result<Vec<_>>>()?;
    let n = covs.len() as f64;
    Ok(CoverageSummary {
        reached_fraction: covs.iter().map(Coverage::reached_fraction).sum::<f64>() / n,
        inert_share: covs.iter().map(Coverage::inert_share).sum::<f64>() / n,
        n: covs.len(),
    })
}

/// The score, the logit and their gradient norms at one W1.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GradientNorms {
    /// `E = σ(z)`.
    pub score: f32,
    /// The ENN's logit `z`.
    pub logit: f32,
    /// `‖∂E/∂W1‖ = E(1 − E) ‖∂z/∂W1‖`.
    pub score_grad: f64,
    /// `‖∂z/∂W1‖`.
    pub logit_grad: f64,
}

/// `‖∂E/∂W1‖` and `‖∂z/∂W1‖` of the frozen ENN at `w1`, from one backward pass from the logit
/// (the sigmoid is the last op, so `∂E/∂W1 = σ′(z) ∂z/∂W1` exactly).
pub fn gradient_norms(enn: &EvaluationNet, w1: &Tensor) -> Result<GradientNorms> {
    let mut tape = Tape::with_capacity(24);
    let vars = enn.bind(&mut tape, false);
    let w = tape.param(w1);
    let img = weight_image_with(&mut tape, w, &enn.image)?;
    let out = enn.forward(&mut tape, &vars, img)?;
    let score = tape.item(out.score)?;
    let logit = tape.item(out.logit)?;
    let mut g = tape.backward(out.logit)?;
    let dz = g
        .take(w)
        .ok_or_else(|| Error::invalid("gradient_norms", "no gradient reached W1"))?;
    let logit_grad = dz
        .data()
        .iter()
        .map(|&x| (x as f64) * (x as f64))
        .sum::<f64>()
        .sqrt();
    let e = score as f64;
    Ok(GradientNorms {
        score,
        logit,
        score_grad: e * (1.0 - e) * logit_grad,
        logit_grad,
    })
}
