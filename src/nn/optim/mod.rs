//! Optimizers. One step updates a [`Module`]'s parameters by gradients given in the order of
//! [`Module::params`] (what [`Mlp::loss_and_grads`](crate::nn::Mlp::loss_and_grads) and
//! [`Module::grads`] return).
//!
//! An optimizer never sees the tape: it receives the gradients the caller took out of
//! [`Gradients`](crate::Gradients), and updates the parameters in place. Its state (SGD's
//! velocity, Adam's moments) is indexed by position, so the parameter order must not change
//! between steps. A slice or `Vec` of `&mut Tensor` is a module too, so a step can also
//! update a hand-picked list of tensors.

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

use crate::error::{Error, Result};
use crate::nn::Module;
use crate::tensor::Tensor;
use std::borrow::Borrow;

/// What a training loop needs of an optimizer: one update of a module by its gradients (in
/// [`Module::params`] order). [`Sgd`] and [`Adam`] implement it with their `step`.
pub trait Optimizer {
    /// One update of `model`'s parameters by `grads`.
    fn step_module<M: Module + ?Sized, G: Borrow<Tensor>>(
        &mut self,
        model: &mut M,
        grads: &[G],
    ) -> Result<()>;
}

impl Optimizer for Sgd {
    fn step_module<M: Module + ?Sized, G: Borrow<Tensor>>(
        &mut self,
        model: &mut M,
        grads: &[G],
    ) -> Result<()> {
        self.step(model, grads)
    }
}

impl Optimizer for Adam {
    fn step_module<M: Module + ?Sized, G: Borrow<Tensor>>(
        &mut self,
        model: &mut M,
        grads: &[G],
    ) -> Result<()> {
        self.step(model, grads)
    }
}

/// The model's parameters paired with `grads`, after checking their number and shapes.
fn pairs<'m, M, G>(
    op: &'static str,
    model: &'m mut M,
    grads: &'m [G],
) -> Result<Vec<(&'m mut Tensor, &'m Tensor)>>
where
    M: Module + ?Sized,
    G: Borrow<Tensor>,
{
    let params = model.params_mut();
    let grads: Vec<&Tensor> = grads.iter().map(Borrow::borrow).collect();
    check_pairs(op, &params, &grads)?;
    Ok(params.into_iter().zip(grads).collect())
}

fn check_pairs(op: &'static str, params: &[&mut Tensor], grads: &[&Tensor]) -> Result<()> {
    if params.len() != grads.len() {
        return Err(Error::shape(
            op,
            format!("{} gradients", params.len()),
            format!("{}", grads.len()),
        ));
    }
    for (i, (p, g)) in params.iter().zip(grads).enumerate() {
        if p.shape() != g.shape() {
            return Err(Error::shape(
                op,
                format!("gradient {i} shaped {}", p.shape()),
                format!("{}", g.shape()),
            ));
        }
    }
    Ok(())
}
