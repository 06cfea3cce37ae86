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
use crate::nn::module::{Module, Name};
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

/// Checks that `grads` match `model`'s parameters in number and shape (an error, and nothing
/// updated, otherwise), then calls `update(i, p, g)` for each pair in order. Allocates nothing:
/// both passes are visits of the model.
fn for_each_pair<M, G>(
    op: &'static str,
    model: &mut M,
    grads: &[G],
    mut update: impl FnMut(usize, &mut Tensor, &Tensor),
) -> Result<()>
where
    M: Module + ?Sized,
    G: Borrow<Tensor>,
{
    let (mut n, mut bad_shape) = (0usize, None);
    model.visit(&Name::ROOT, &mut |_, p| {
        if let Some(g) = grads.get(n) {
            if bad_shape.is_none() && g.borrow().shape() != p.shape() {
                bad_shape = Some(Error::shape(
                    op,
                    format!("gradient {n} shaped {}", p.shape()),
                    format!("{}", g.borrow().shape()),
                ));
            }
        }
        n += 1;
    });
    if n != grads.len() {
        return Err(Error::shape(
            op,
            format!("{n} gradients"),
            format!("{}", grads.len()),
        ));
    }
    if let Some(e) = bad_shape {
        return Err(e);
    }
    let mut i = 0;
    model.visit_mut(&Name::ROOT, &mut |_, p| {
        update(i, p, grads[i].borrow());
        i += 1;
    });
    Ok(())
}
