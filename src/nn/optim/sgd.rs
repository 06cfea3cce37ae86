//! Stochastic gradient descent with optional momentum and weight decay, as `torch.optim.SGD`:
//! `d = g + λ p;  v ← μ v + d (v = d on the first step);  p ← p − η v` (plain: `p ← p − η d`).
//!
//! g is the mini-batch gradient, an unbiased estimate of the full-data gradient; λp is the
//! gradient of the L2 penalty `(λ/2)‖p‖²`; momentum μ averages past directions so that
//! consistent components add up (a step size of `η/(1−μ)` on a steady gradient) while
//! oscillating ones cancel.

use super::for_each_pair;
use crate::error::Result;
use crate::nn::Module;
use crate::tensor::Tensor;
use std::borrow::Borrow;

/// SGD state.
#[derive(Clone, Debug)]
pub struct Sgd {
    /// Learning rate η.
    pub lr: f32,
    /// Momentum μ (0 disables).
    pub momentum: f32,
    /// Weight decay λ (L2 penalty folded into the gradient).
    pub weight_decay: f32,
    velocity: Vec<Tensor>,
}

impl Sgd {
    /// Plain SGD with learning rate `lr`.
    pub fn new(lr: f32) -> Sgd {
        Sgd {
            lr,
            momentum: 0.0,
            weight_decay: 0.0,
            velocity: Vec::new(),
        }
    }

    /// SGD with momentum and weight decay.
    pub fn with_momentum(lr: f32, momentum: f32, weight_decay: f32) -> Sgd {
        Sgd {
            lr,
            momentum,
            weight_decay,
            velocity: Vec::new(),
        }
    }

    /// One update of `model`'s parameters by `grads` (in [`Module::params`] order, same
    /// shapes; owned tensors or references).
    ///
    /// ```
    /// use grad_instructor::nn::Sgd;
    /// use grad_instructor::Tensor;
    /// # fn main() -> grad_instructor::Result<()> {
    /// let mut p = Tensor::from_vec(vec![1.0, -2.0], &[2])?;
    /// let g = Tensor::from_vec(vec![0.5, 0.5], &[2])?;
    /// Sgd::new(0.25).step(&mut p, &[g])?; // p − 0.25 g, both values exact in binary
    /// assert_eq!(p.data(), &[0.875, -2.125]);
    /// # Ok(()) }
    /// ```
    pub fn step<M, G>(&mut self, model: &mut M, grads: &[G]) -> Result<()>
    where
        M: Module + ?Sized,
        G: Borrow<Tensor>,
    {
        let first = self.velocity.is_empty() && self.momentum != 0.0;
        if first {
            self.velocity = model.params().iter().map(|p| p.zeros_like()).collect();
        }
        let (lr, wd, mu) = (self.lr, self.weight_decay, self.momentum);
        let velocity = &mut self.velocity;
        let stepped = for_each_pair("Sgd::step", model, grads, |i, p, g| {
            if mu == 0.0 && wd == 0.0 {
                // `w − η g`: the plain step, written as the hand-rolled updates it replaced.
                p.data_mut()
                    .iter_mut()
                    .zip(g.data())
                    .for_each(|(w, &gi)| *w -= lr * gi);
            } else if mu == 0.0 {
                p.data_mut()
                    .iter_mut()
                    .zip(g.data())
                    .for_each(|(w, &gi)| *w -= lr * (gi + wd * *w));
            } else {
                let v = velocity[i].data_mut();
                for ((w, &gi), vi) in p.data_mut().iter_mut().zip(g.data()).zip(v.iter_mut()) {
                    let d = gi + wd * *w;
                    *vi = if first { d } else { mu * *vi + d };
                    *w -= lr * *vi;
                }
            }
        });
        if stepped.is_err() && first {
            self.velocity.clear(); // a rejected step leaves the state as it was
        }
        stepped
    }
}
