//! The Evaluation Neural Network (ENN): a small CNN that looks at the image of a target MLP's
//! first weight matrix (see [`weight_image`](mod@super::weight_image)) and predicts how well that
//! MLP will perform, as a number in [0, 1].
//!
//! Architecture (our reconstruction; the paper's text gives none):
//!
//! ```text
//! image (n,1,h,w)  e.g. h×w = 15×117
//!   conv 3×3, 1→16, pad 1 → ReLU → max-pool 2        (n,16,h/2,w/2)
//!   conv 3×3, 16→32, pad 1 → ReLU  = last_conv         (n,32,h/2,w/2)   ← Grad-CAM layer
//!   global average pool                                (n,32)
//!   linear 32→32 → ReLU → linear 32→1 → sigmoid        (n,1)  predicted accuracy
//! ```
//!
//! The global pool makes any input size (≥ 2×2) work. Every layer uses PyTorch's default
//! initialization.

use super::frozen::{score_and_image_gradient, Plan};
use super::weight_image::{
    weight_image_adjoint_block, weight_image_with, weight_images, W1Gradient, WeightImageConfig,
};
use crate::autodiff::{Tape, Var};
use crate::error::{Error, Result};
use crate::io::safetensors;
use crate::nn::conv::Conv2dVars;
use crate::nn::{Conv2d, Init, Linear, LinearVars, Module};
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;

/// The safetensors metadata key under which [`EvaluationNet::save`] records the image
/// configuration (as [`WeightImageConfig::to_json`]).
pub const IMAGE_METADATA_KEY: &str = "image";

/// The first non-finite value among named tensors, as `(name, index, value)`.
fn first_non_finite<'a>(
    named: impl IntoIterator<Item = (String, &'a Tensor)>,
) -> Option<(String, usize, f32)> {
    named.into_iter().find_map(|(n, t)| {
        let i = t.data().iter().position(|v| !v.is_finite())?;
        Some((n, i, t.data()[i]))
    })
}

/// The Evaluation Neural Network.
#[derive(Clone, Debug, PartialEq)]
pub struct EvaluationNet {
    /// 3×3, 1 → 16, pad 1.
    pub conv1: Conv2d,
    /// 3×3, 16 → 32, pad 1.
    pub conv2: Conv2d,
    /// 32 → 32.
    pub fc1: Linear,
    /// 32 → 1.
    pub fc2: Linear,
    /// How a W1 becomes this network's input image.
    pub image: WeightImageConfig,
}

/// The tape variables of a bound [`EvaluationNet`].
#[derive(Clone, Copy, Debug)]
pub struct EnnVars {
    /// First convolution.
    pub conv1: Conv2dVars,
    /// Second convolution.
    pub conv2: Conv2dVars,
    /// Hidden linear layer.
    pub fc1: LinearVars,
    /// Output linear layer.
    pub fc2: LinearVars,
}

/// What one forward pass records.
#[derive(Clone, Copy, Debug)]
pub struct EnnOutput {
    /// Predicted accuracy `sigmoid(logit)`, (n, 1).
    pub score: Var,
    /// The pre-sigmoid output, (n, 1).
    pub logit: Var,
    /// The ReLU output of the second convolution, (n, 32, h', w'): the Grad-CAM layer.
    pub last_conv: Var,
}

// Parameters `conv1.weight`, `conv1.bias`, `conv2.weight`, …, `fc2.bias`, in this order.
crate::impl_module!(EvaluationNet {
    conv1,
    conv2,
    fc1,
    fc2
});

impl EvaluationNet {
    /// A freshly initialized ENN (PyTorch default init) with the default image configuration.
    pub fn new(rng: &mut impl Rng) -> Result<EvaluationNet> {
        Ok(EvaluationNet {
            conv1: Conv2d::new(1, 16, 3, 1, 1, Init::PytorchDefault, rng)?,
            conv2: Conv2d::new(16, 32, 3, 1, 1, Init::PytorchDefault, rng)?,
            fc1: Linear::new(32, 32, Init::PytorchDefault, rng)?,
            fc2: Linear::new(32, 1, Init::PytorchDefault, rng)?,
            image: WeightImageConfig::default(),
        })
    }

    /// Binds the parameters; `trainable = false` binds them as constants (a frozen ENN, whose
    /// branch of the tape then costs no backward work beyond what the input needs).
    pub fn bind<'a>(&'a self, tape: &mut Tape<'a>, trainable: bool) -> EnnVars {
        EnnVars {
            conv1: self.conv1.bind(tape, trainable),
            conv2: self.conv2.bind(tape, trainable),
            fc1: self.fc1.bind(tape, trainable),
            fc2: self.fc2.bind(tape, trainable),
        }
    }

    /// Records the forward pass of `image` (n, 1, h, w).
    pub fn forward(&self, tape: &mut Tape<'_>, vars: &EnnVars, image: Var) -> Result<EnnOutput> {
        let d = tape.value(image).dims();
        if d.len() != 4 || d[1] != 1 || d[2] < 2 || d[3] < 2 {
            return Err(Error::shape(
                "EvaluationNet::forward",
                "an image (n, 1, h, w) with h, w >= 2",
                format!("{d:?}"),
            ));
        }
        let n = d[0];
        let c1 = self.conv1.forward(tape, vars.conv1, image)?;
        let a1 = tape.relu(c1);
        let p1 = tape.max_pool2d(a1, 2, 2)?;
        let c2 = self.conv2.forward(tape, vars.conv2, p1)?;
        let last_conv = tape.relu(c2);
        let pooled = tape.global_avg_pool(last_conv)?; // (n, 32)
        let h = Linear::forward(tape, vars.fc1, pooled)?;
        let h = tape.relu(h);
        let logit = Linear::forward(tape, vars.fc2, h)?; // (n, 1)
        debug_assert_eq!(tape.value(logit).dims(), &[n, 1]);
        let score = tape.sigmoid(logit);
        Ok(EnnOutput {
            score,
            logit,
            last_conv,
        })
    }

    /// Predicted accuracy of the MLP whose first weight matrix is `w1` (frozen ENN, no gradient).
    pub fn score(&self, w1: &Tensor) -> Result<f32> {
        let mut tape = Tape::with_capacity(24);
        let vars = self.bind(&mut tape, false);
        let w = tape.constant_ref(w1);
        let img = weight_image_with(&mut tape, w, &self.image)?;
        let out = self.forward(&mut tape, &vars, img)?;
        tape.item(out.score)
    }

    /// Scores of a batch of images (n, 1, h, w) in one forward pass.
    pub fn score_images(&self, images: &Tensor) -> Result<Vec<f32>> {
        let mut tape = Tape::with_capacity(24);
        let vars = self.bind(&mut tape, false);
        let x = tape.constant_ref(images);
        let out = self.forward(&mut tape, &vars, x)?;
        Ok(tape.value(out.score).data().to_vec())
    }

    /// Scores of K candidate W1s (same shape) in one batched forward pass.
    pub fn score_many(&self, w1s: &[&Tensor]) -> Result<Vec<f32>> {
        self.score_images(&weight_images(w1s, &self.image)?)
    }

    /// The score and `∂score/∂W1`, through the resize, with the ENN frozen: the dense matrix
    /// of [`EvaluationNet::score_and_w1_gradient`].
    pub fn score_and_grad_w1(&self, w1: &Tensor) -> Result<(f32, Tensor)> {
        let (score, grad) = self.score_and_w1_gradient(w1)?;
        Ok((score, grad.into_tensor()?))
    }

    /// The score and `∂score/∂W1` with the ENN frozen, as a [`W1Gradient`]: for the bilinear
    /// image only the rows × columns the resize reads (9 % of a 100 × 784 W1).
    ///
    /// By the chain rule through the linear image map, `∂score/∂W1 = Rᵀ ∂score/∂image`: the
    /// image is made without a tape ([`weight_images`]), the ENN is differentiated with
    /// respect to it without a tape either (the same kernels on per-thread buffers, see
    /// `instructor/frozen.rs`), and [`weight_image_adjoint_block`] takes the result back to
    /// W1. Each step reproduces the one-tape computation (W1 bound as a parameter below
    /// [`weight_image_with`]) bit for bit; [`EvaluationNet::score_and_image_gradient_on_tape`]
    /// is the middle step on the tape.
    pub fn score_and_w1_gradient(&self, w1: &Tensor) -> Result<(f32, W1Gradient)> {
        let (rows, cols) = w1.matrix_dims("EvaluationNet::score_and_w1_gradient")?;
        let image = weight_images(&[w1], &self.image)?;
        let (h, w) = (image.dims()[2], image.dims()[3]);
        let (score, grad_image) = match Plan::of(self, h, w) {
            Some(plan) => {
                let mut grad = Tensor::zeros(image.dims())?;
                let score = score_and_image_gradient(self, &plan, image.data(), grad.data_mut());
                (score, grad)
            }
            None => self.score_and_image_gradient_on_tape(image)?,
        };
        let grad = weight_image_adjoint_block(&grad_image, rows, cols, &self.image)?;
        Ok((score, grad))
    }

    /// The score of one image (1, 1, h, w) and its gradient with respect to the image, on a
    /// tape with the ENN frozen: the definition that [`EvaluationNet::score_and_w1_gradient`]
    /// reproduces without one.
    pub fn score_and_image_gradient_on_tape(&self, image: Tensor) -> Result<(f32, Tensor)> {
        let mut tape = Tape::with_capacity(20);
        let vars = self.bind(&mut tape, false);
        let x = tape.leaf(image, true);
        let out = self.forward(&mut tape, &vars, x)?;
        let score = tape.item(out.score)?;
        let mut g = tape.backward(out.score)?;
        let grad_image = g.take(x).ok_or_else(|| {
            Error::invalid(
                "EvaluationNet::score_and_image_gradient_on_tape",
                "no gradient",
            )
        })?;
        Ok((score, grad_image))
    }

    /// Saves the parameters and the image configuration (metadata key [`IMAGE_METADATA_KEY`],
    /// JSON) as one safetensors file, atomically, with extra string `metadata`, sealed with a
    /// CRC-32 of all of it ([`safetensors::save_checked`]). A non-finite parameter is refused.
    pub fn save(&self, path: &Path, metadata: &[(&str, &str)]) -> Result<()> {
        let image = self.image.to_json();
        let mut meta: Vec<(&str, &str)> = vec![(IMAGE_METADATA_KEY, image.as_str())];
        meta.extend_from_slice(metadata); // a second "image" key is an error of to_bytes
        if let Some((name, i, v)) = first_non_finite(self.named_params()) {
            return Err(Error::invalid(
                "EvaluationNet::save",
                format!("parameter {name:?} holds {v} at index {i}; not saved"),
            ));
        }
        self.with_named_params(|named| safetensors::save_checked(path, named, &meta))
    }

    /// Loads an ENN written by [`EvaluationNet::save`], with the image configuration it was
    /// saved with. The checksum must be present and match, and every parameter must be
    /// finite: a damaged file is an [`Error::Format`] naming it. (A file with a checksum but
    /// without the image key gets the default image.)
    pub fn load(path: &Path) -> Result<EvaluationNet> {
        let weights = safetensors::load_checked(path)?;
        let named = weights.tensors.iter().map(|(n, t)| (n.clone(), t));
        if let Some((name, i, v)) = first_non_finite(named) {
            return Err(Error::format(
                path,
                None,
                format!("ENN parameter {name:?} holds {v} at index {i}"),
            ));
        }
        let image = match weights.meta(IMAGE_METADATA_KEY) {
            Some(json) => WeightImageConfig::from_json(json).map_err(|e| {
                Error::invalid("EvaluationNet::load", format!("{}: {e}", path.display()))
            })?,
            None => WeightImageConfig::default(),
        };
        EvaluationNet::from_named(weights.tensors, image)
    }

    /// Rebuilds an ENN from named tensors (any order; every name of [`Module::named_params`]
    /// exactly once, shapes as [`EvaluationNet::new`] makes them) and the image configuration
    /// it was trained with.
    pub fn from_named(
        tensors: Vec<(String, Tensor)>,
        image: WeightImageConfig,
    ) -> Result<EvaluationNet> {
        // The architecture is written once, in `new`; every tensor it draws is replaced.
        let mut enn = EvaluationNet::new(&mut StdRng::seed_from_u64(0))?;
        enn.load_named(tensors)?;
        enn.image = image;
        Ok(enn)
    }
}
