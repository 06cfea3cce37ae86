//! Adam (Kingma & Ba, "Adam: A Method for Stochastic Optimization", ICLR 2015), as
//! `torch.optim.Adam`:
//!
//! ```text
//! m ← β₁m + (1−β₁)g;   v ← β₂v + (1−β₂)g²;   p ← p − η m̂ / (√v̂ + ε)
//! m̂ = m/(1−β₁ᵗ),  v̂ = v/(1−β₂ᵗ)          (bias corrections; t counts steps from 1)
//! ```
//!
//! Weight decay adds `λp` to g (L2, not AdamW's decoupled decay). m and v start at 0, so
//! without the corrections the first steps would be shrunk by factors (1−β₁) and √(1−β₂).
//! With them the first step is `η g/(|g| + ε)`: about η in the direction of −sign g, whatever
//! the gradient's scale. That scale invariance is Adam's point.

use super::for_each_pair;
use crate::error::Result;
use crate::nn::Module;
use crate::tensor::Tensor;
use std::borrow::Borrow;

/// Adam state.
#[derive(Clone, Debug)]
pub struct Adam {
    /// Learning rate η.
    pub lr: f32,
    /// First-moment decay β₁.
    pub beta1: f32,
    /// Second-moment decay β₂.
    pub beta2: f32,
    /// ε in the denominator.
    pub eps: f32,
    /// L2 weight decay λ.
    pub weight_decay: f32,
    /// Steps taken so far.
    pub t: u64,
    /// First moments.
    pub m: Vec<Tensor>,
    /// Second moments.
    pub v: Vec<Tensor>,
}

impl Adam {
    /// Adam with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8).
    pub fn new(lr: f32) -> Adam {
        Adam {
            lr,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 0.0,
            t: 0,
            m: Vec::new(),
            v: Vec::new(),
        }
    }

    /// One update of `model`'s parameters by `grads` (in [`Module::params`] order, same
    /// shapes; owned tensors or references).
    ///
    /// ```
    /// use grad_instructor::nn::Adam;
    /// use grad_instructor::Tensor;
    /// # fn main() -> grad_instructor::Result<()> {
    /// let mut p = Tensor::from_vec(vec![1.0, 1.0], &[2])?;
    /// let g = Tensor::from_vec(vec![1e-3, -50.0], &[2])?; // very different scales
    /// Adam::new(0.1).step(&mut p, &[g])?;
    /// // The first step moves each coordinate by ≈ η = 0.1 against its gradient's sign
    /// // (ε = 1e-8 against |g| ≥ 1e-3 changes it by at most 1e-5 relative; f32 rounding of
    /// // the bias corrections adds ~1e-7).
    /// assert!((p.data()[0] - 0.9).abs() < 1e-5 && (p.data()[1] - 1.1).abs() < 1e-5);
    /// # Ok(()) }
    /// ```
    pub fn step<M, G>(&mut self, model: &mut M, grads: &[G]) -> Result<()>
    where
        M: Module + ?Sized,
        G: Borrow<Tensor>,
    {
        let fresh = self.m.is_empty();
        let t = self.t + 1;
        let (b1, b2, lr, eps, wd) = (self.beta1, self.beta2, self.lr, self.eps, self.weight_decay);
        let c1 = 1.0 - b1.powi(t as i32);
        let c2 = 1.0 - b2.powi(t as i32);
        if fresh {
            self.m = model.params().iter().map(|p| p.zeros_like()).collect();
            self.v = model.params().iter().map(|p| p.zeros_like()).collect();
        }
        let (ms, vs) = (&mut self.m, &mut self.v);
        let stepped = for_each_pair("Adam::step", model, grads, |i, p, g| {
            let (m, v) = (ms[i].data_mut(), vs[i].data_mut());
            for (j, (w, &gi)) in p.data_mut().iter_mut().zip(g.data()).enumerate() {
                let d = gi + wd * *w;
                m[j] = b1 * m[j] + (1.0 - b1) * d;
                v[j] = b2 * v[j] + (1.0 - b2) * d * d;
                *w -= lr * (m[j] / c1) / ((v[j] / c2).sqrt() + eps);
            }
        });
        match stepped {
            Ok(()) => self.t = t,
            // A rejected step leaves the state as it was.
            Err(_) if fresh => {
                self.m.clear();
                self.v.clear();
            }
            Err(_) => {}
        }
        stepped
    }
}
