//! Grad-CAM on the Evaluation Neural Network: which parts of a weight matrix W1 drive the
//! ENN's predicted accuracy.
//!
//! W1 → weight image (resize 0.15, fixed gain) → ENN; the score's gradient with respect to
//! the last convolution's maps gives the class activation map (see [`super::gradcam`]), which
//! is upsampled bilinearly to the ENN's input size, then to W1's size, and normalized to
//! [0, 1]. Column means of the W1-sized map give the evidence per input pixel (784 → 28×28);
//! row means give it per hidden unit.

use super::gradcam::{
    class_activation_map, column_means, normalize_unit, row_means, upsample, CamMethod,
};
use crate::autodiff::Tape;
use crate::error::Result;
use crate::instructor::{weight_image_with, EvaluationNet};
use crate::tensor::Tensor;

/// Grad-CAM of the ENN for one W1.
#[derive(Clone, Debug)]
pub struct EnnCam {
    /// The ENN's score of W1 (predicted accuracy).
    pub score: f32,
    /// The raw map at the last convolution's resolution (non-negative, unnormalized).
    pub raw: Tensor,
    /// Normalized map at the ENN's input size (e.g. 15 × 117).
    pub input_map: Tensor,
    /// Normalized map at W1's size (e.g. 100 × 784).
    pub w1_map: Tensor,
    /// Mean heat per input pixel (W1's columns), normalized: 784 values (28 × 28 for MNIST).
    pub per_input: Tensor,
    /// Mean heat per hidden unit (W1's rows), normalized.
    pub per_hidden: Tensor,
}

/// Runs the frozen ENN on `w1` and computes its Grad-CAM (or Grad-CAM++) map.
pub fn enn_gradcam(enn: &EvaluationNet, w1: &Tensor, method: CamMethod) -> Result<EnnCam> {
    let (rows, cols) = w1.matrix_dims("enn_gradcam")?;
    let mut tape = Tape::with_capacity(32);
    let vars = enn.bind(&mut tape, false);
    // W1 asks for a gradient so that every node between it and the score (the feature maps
    // included) gets an adjoint; the ENN's parameters stay constants.
    let w = tape.leaf(w1.clone(), true);
    let image = weight_image_with(&mut tape, w, &enn.image)?;
    let (ih, iw) = (tape.value(image).dims()[2], tape.value(image).dims()[3]);
    let out = enn.forward(&mut tape, &vars, image)?;
    let root = tape.sum(out.score);
    let grads = tape.backward(root)?;
    let activations = tape.value(out.last_conv);
    let gradients = grads.expect(out.last_conv, "enn_gradcam")?;
    let raw = class_activation_map(activations, gradients, method)?;
    let at_input = upsample(&raw, ih, iw)?;
    let w1_map = normalize_unit(&upsample(&at_input, rows, cols)?);
    Ok(EnnCam {
        score: tape.item(root)?,
        per_input: normalize_unit(&column_means(&w1_map)?),
        per_hidden: normalize_unit(&row_means(&w1_map)?),
        input_map: normalize_unit(&at_input),
        w1_map,
        raw,
    })
}
