//! Reductions: the sum or mean of every element, or along one axis.
//!
//! | forward | adjoint contributions |
//! |---|---|
//! | `Σ x`, `mean x` | `x̄ += ḡ` (resp. `ḡ / N`) in every element |
//! | sum / mean along an axis | ḡ broadcast back along that axis (÷ its length for the mean) |

use crate::autodiff::op::{Op, Var};
use crate::autodiff::tape::{Adjoints, Tape};
use crate::error::Result;
use crate::tensor::Tensor;

/// Forward passes.
impl Tape<'_> {
    /// Sum of all elements (a scalar).
    pub fn sum(&mut self, a: Var) -> Var {
        let y = Tensor::scalar(self.value(a).sum_all());
        self.push(Op::SumAll { a }, y)
    }
    /// Mean of all elements (a scalar).
    pub fn mean(&mut self, a: Var) -> Var {
        let y = Tensor::scalar(self.value(a).mean_all());
        self.push(Op::MeanAll { a }, y)
    }
    /// Sum along `axis` (removed).
    pub fn sum_axis(&mut self, a: Var, axis: usize) -> Result<Var> {
        let y = self.value(a).sum_axis(axis)?;
        Ok(self.push(Op::SumAxis { a, axis }, y))
    }
    /// Mean along `axis` (removed).
    pub fn mean_axis(&mut self, a: Var, axis: usize) -> Result<Var> {
        let y = self.value(a).mean_axis(axis)?;
        Ok(self.push(Op::MeanAxis { a, axis }, y))
    }
}

// Backward rules.

/// `y = Σ x`: `x̄ += ḡ` in every element.
pub(crate) fn sum_backward(adj: &mut Adjoints<'_, '_>, g: &Tensor, a: Var) -> Result<()> {
    let (g0, n) = (g.data()[0], adj.value(a).numel());
    adj.accumulate_fresh(a, || vec![g0; n], |da| da.iter_mut().for_each(|d| *d += g0))
}

/// `y = mean x = Σ x / N`: `x̄ += ḡ / N` in every element.
pub(crate) fn mean_backward(adj: &mut Adjoints<'_, '_>, g: &Tensor, a: Var) -> Result<()> {
    let n = adj.value(a).numel();
    let scale = g.data()[0] / n as f32;
    adj.accumulate_fresh(
        a,
        || vec![scale; n],
        |da| da.iter_mut().for_each(|d| *d += scale),
    )
}

/// `y[o, r] = Σ_i x[o, i, r]`  ⇒  `x̄[o, i, r] += ḡ[o, r]` (÷ len for the mean).
pub(crate) fn axis_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    a: Var,
    axis: usize,
    mean: bool,
) -> Result<()> {
    let gd = g.data();
    let (outer, len, inner) = adj.value(a).shape().split_at_axis(axis);
    let scale = if mean { 1.0 / len as f32 } else { 1.0 };
    adj.accumulate(a, |da| {
        for o in 0..outer {
            for i in 0..len {
                let dst = &mut da[(o * len + i) * inner..(o * len + i + 1) * inner];
                let src = &gd[o * inner..(o + 1) * inner];
                dst.iter_mut().zip(src).for_each(|(d, &s)| *d += scale * s);
            }
        }
    });
    Ok(())
}
