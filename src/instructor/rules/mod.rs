//! The two rules that train the ENN from episodes, and the one ENN update they share.
//!
//! * [`reinforce`]: policy gradient on the decisions' candidate choices.
//! * [`value`]: Monte-Carlo regression of E(state) onto the episode's reward (the default).
//!
//! Both end in [`enn_step`]: record a loss of the ENN's output on a tape, take the gradient
//! with respect to the ENN's parameters, refuse a non-finite one, and take one Adam step.

pub mod reinforce;
pub mod value;

use super::enn::{EnnOutput, EvaluationNet};
use crate::autodiff::{Tape, Var};
use crate::error::{Error, Result};
use crate::nn::{Adam, Module};
use crate::tensor::Tensor;

/// One Adam step of the ENN on the scalar loss that `loss` records from the ENN's output on
/// `images` (n, 1, h, w); returns the loss before the step. A non-finite loss or gradient is
/// an [`Error::NonFinite`] naming `what` and Adam's step, and leaves the ENN unchanged.
pub fn enn_step(
    enn: &mut EvaluationNet,
    adam: &mut Adam,
    images: &Tensor,
    what: &str,
    loss: impl FnOnce(&mut Tape<'_>, EnnOutput) -> Result<Var>,
) -> Result<f32> {
    let (value, grads) = {
        let mut tape = Tape::with_capacity(40);
        let vars = enn.bind(&mut tape, true);
        let x = tape.constant_ref(images);
        let out = enn.forward(&mut tape, &vars, x)?;
        let l = loss(&mut tape, out)?;
        let value = tape.item(l)?;
        let mut g = tape.backward(l)?;
        (value, enn.grads(&tape, &mut g)?)
    };
    if !value.is_finite() || grads.iter().any(|g| !g.all_finite()) {
        return Err(Error::NonFinite {
            run: "enn-training".into(),
            step: adam.t as usize,
            what: format!("{what} or gradient"),
        });
    }
    adam.step(enn, &grads)?;
    Ok(value)
}

/// Concatenates image batches (n_i, c, h, w) along the first axis (at least one batch).
pub fn concat_images(batches: &[&Tensor]) -> Result<Tensor> {
    let first = batches
        .first()
        .ok_or_else(|| Error::invalid("concat_images", "nothing to concatenate"))?;
    if first.dims().len() != 4 {
        return Err(Error::shape(
            "concat_images",
            "image batches (n, c, h, w)",
            format!("{:?}", first.dims()),
        ));
    }
    let tail = first.dims()[1..].to_vec();
    let mut n = 0;
    let mut data = Vec::new();
    for b in batches {
        if b.dims().len() != 4 || b.dims()[1..] != tail[..] {
            return Err(Error::shape(
                "concat_images",
                format!("(n, {tail:?})"),
                format!("{:?}", b.dims()),
            ));
        }
        n += b.dims()[0];
        data.extend_from_slice(b.data());
    }
    let mut dims = vec![n];
    dims.extend_from_slice(&tail);
    Tensor::from_vec(data, &dims)
}
