//! Optimizers. One step is one function over (parameters, gradients), in the same order.
//!
//! An optimizer never sees the tape: it receives the gradients the caller took out of
//! [`Gradients`](crate::Gradients), and updates the parameters in place. Its state (SGD's
//! velocity, Adam's moments) is indexed by position, so the parameter order must not change
//! between steps.

mod adam;
mod sgd;

pub use adam::Adam;
pub use sgd::Sgd;

use crate::error::{Error, Result};
use crate::tensor::Tensor;

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
