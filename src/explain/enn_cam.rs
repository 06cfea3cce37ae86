//! Grad-CAM on the Evaluation Neural Network: which parts of a weight matrix W1 drive the
//! ENN's predicted accuracy — restricted to what the ENN actually reads.
//!
//! W1 → weight image R(W1) (resize, mask, gain; see
//! [`weight_image`](mod@crate::instructor::weight_image)) → ENN. Two maps over W1, both
//! labelled in the report:
//!
//! * **Grad-CAM through the adjoint** (`heat`): the class activation map of the last
//!   convolution (see [`super::gradcam`]) is upsampled bilinearly to the image the ENN looked
//!   at (e.g. 7×58 → 15×117; that step is the usual Grad-CAM approximation of the conv
//!   stack's receptive fields), then mapped back to W1 through the image map's adjoint `Rᵀ`
//!   ([`weight_image_adjoint`]): each W1 entry gets the heat of the image pixels that read it,
//!   times the weight with which they read it. With the bilinear image the heat is exactly 0
//!   on the ~91% of W1 no tap reads — upsampling the map to 100×784 instead would paint heat
//!   on weights the ENN never sees.
//! * **Gradient × weight** (`saliency`): `|W1 ⊙ ∂E/∂W1|`, the first-order change of E when an
//!   entry is set to zero. Also 0 wherever the ENN reads nothing.
//!
//! The per-input-pixel (784 → 28×28) and per-hidden-unit views are **sums** of a W1 map over
//! the hidden units (rows) and over the inputs (columns): the total heat that pixel's weights,
//! or that unit's weights, carry. Every map is divided by its maximum (so 0 stays 0).

use super::gradcam::{class_activation_map, upsample, CamMethod};
use crate::autodiff::Tape;
use crate::error::Result;
use crate::instructor::{weight_image_adjoint, weight_image_with, EvaluationNet};
use crate::tensor::Tensor;

/// Grad-CAM of the ENN for one W1.
#[derive(Clone, Debug)]
pub struct EnnCam {
    /// The ENN's score of W1 (predicted accuracy).
    pub score: f32,
    /// The raw map at the last convolution's resolution (non-negative, unnormalized).
    pub raw: Tensor,
    /// The map upsampled to the ENN's input size (e.g. 15 × 117), divided by its maximum.
    pub input_map: Tensor,
    /// Grad-CAM mapped to W1 through the image's adjoint (W1's shape), divided by its maximum.
    pub heat: Tensor,
    /// `|W1 ⊙ ∂E/∂W1|` (W1's shape), divided by its maximum.
    pub saliency: Tensor,
    /// Column sums of `heat` (one per input pixel), divided by their maximum.
    pub heat_per_input: Tensor,
    /// Row sums of `heat` (one per hidden unit), divided by their maximum.
    pub heat_per_hidden: Tensor,
    /// Column sums of `saliency`, divided by their maximum.
    pub saliency_per_input: Tensor,
    /// Row sums of `saliency`, divided by their maximum.
    pub saliency_per_hidden: Tensor,
}

/// `x / max(x)` for a non-negative map; an all-zero map stays zero.
pub fn normalize_max(map: &Tensor) -> Tensor {
    let hi = map.data().iter().fold(0.0f32, |m, &x| m.max(x));
    map.map(|x| if hi > 0.0 { x / hi } else { 0.0 })
}

/// Sum of an (r, c) map over its rows: (c) — per input pixel for a map over W1.
pub fn column_sums(map: &Tensor) -> Result<Tensor> {
    let (_, c) = map.matrix_dims("column_sums")?;
    let mut out = vec![0.0f64; c];
    for row in map.data().chunks_exact(c) {
        out.iter_mut().zip(row).for_each(|(o, &x)| *o += x as f64);
    }
    Tensor::from_vec(out.into_iter().map(|x| x as f32).collect(), &[c])
}

/// Sum of an (r, c) map over its columns: (r) — per hidden unit for a map over W1.
pub fn row_sums(map: &Tensor) -> Result<Tensor> {
    let (r, c) = map.matrix_dims("row_sums")?;
    let sums = map
        .data()
        .chunks_exact(c)
        .map(|row| row.iter().map(|&x| x as f64).sum::<f64>() as f32)
        .collect();
    Tensor::from_vec(sums, &[r])
}

/// Runs the frozen ENN on `w1` and computes both maps (see the module docs).
pub fn enn_gradcam(enn: &EvaluationNet, w1: &Tensor, method: CamMethod) -> Result<EnnCam> {
    let (rows, cols) = w1.matrix_dims("enn_gradcam")?;
    let mut tape = Tape::with_capacity(32);
    let vars = enn.bind(&mut tape, false);
    // W1 asks for a gradient so that every node between it and the score (the feature maps
    // included) gets an adjoint; the ENN's parameters stay constants.
    let w = tape.param(w1);
    let image = weight_image_with(&mut tape, w, &enn.image)?;
    let (ih, iw) = (tape.value(image).dims()[2], tape.value(image).dims()[3]);
    let out = enn.forward(&mut tape, &vars, image)?;
    let root = tape.sum(out.score);
    let grads = tape.backward(root)?;
    let activations = tape.value(out.last_conv);
    let gradients = grads.expect(out.last_conv, "enn_gradcam")?;
    let raw = class_activation_map(activations, gradients, method)?;
    let input_map = normalize_max(&upsample(&raw, ih, iw)?);
    let heat = normalize_max(&weight_image_adjoint(&input_map, rows, cols, &enn.image)?);
    let de = grads.expect(w, "enn_gradcam")?;
    let saliency = Tensor::from_vec(
        w1.data()
            .iter()
            .zip(de.data())
            .map(|(&x, &g)| (x * g).abs())
            .collect(),
        &[rows, cols],
    )?;
    let saliency = normalize_max(&saliency);
    Ok(EnnCam {
        score: tape.item(root)?,
        heat_per_input: normalize_max(&column_sums(&heat)?),
        heat_per_hidden: normalize_max(&row_sums(&heat)?),
        saliency_per_input: normalize_max(&column_sums(&saliency)?),
        saliency_per_hidden: normalize_max(&row_sums(&saliency)?),
        input_map,
        heat,
        saliency,
        raw,
    })
}
