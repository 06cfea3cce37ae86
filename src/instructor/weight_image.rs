//! The ENN's input: the target MLP's first weight matrix W1 seen as a one-channel image.
//!
//! W1 is (hidden × inputs), e.g. 100 × 784. The paper downsamples it to 0.15 per side before
//! the ENN sees it; with PyTorch `F.interpolate(scale_factor=0.15, mode="bilinear",
//! align_corners=False)` semantics that gives `floor(100·0.15) × floor(784·0.15)` = 15 × 117.
//!
//! Our reconstruction (the paper's text is not available, only its abstract):
//! * the resize is bilinear without antialiasing (PyTorch's default), so each output pixel
//!   reads a 2 × 2 neighbourhood of W1 and most entries of W1 receive no gradient from the ENN;
//! * the image is multiplied by a *fixed* gain `√fan_in` (fan_in = W1's column count, 784 on
//!   MNIST). PyTorch's default init draws W1 from U(±1/√fan_in), so the gain maps it to
//!   U(±1): values of order one for the ENN's convolutions, while a state whose weights grew
//!   or shrank still looks bigger or smaller. A per-image normalization would hide exactly the
//!   magnitude information that separates good from bad initial scales.
//!
//! `antialias = true` (off by default) first averages W1 over `k × k` blocks, `k = ⌊1/scale⌋`,
//! and then resizes bilinearly to the same output size. Every entry of W1 then influences the
//! image (and receives the ENN's gradient), instead of only the ≤ 4·h·w entries the bilinear
//! taps read (7 020 of 78 400 for 100 × 784).

use crate::autodiff::{ResizeTo, Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::pool::{self, Pool2dGeometry};
use crate::kernels::resize::{self, ResizeGeometry, ResizeMode};
use crate::tensor::Tensor;

/// How W1 becomes the ENN's image.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WeightImageConfig {
    /// Resize factor per side (paper: 0.15).
    pub resize_scale: f64,
    /// Fixed multiplier of the resized image; `None` means `√fan_in` (our reconstruction).
    pub gain: Option<f32>,
    /// Average `⌊1/scale⌋`-blocks before the bilinear resize (see the module docs).
    pub antialias: bool,
}

impl Default for WeightImageConfig {
    fn default() -> Self {
        WeightImageConfig {
            resize_scale: 0.15,
            gain: None,
            antialias: false,
        }
    }
}

impl WeightImageConfig {
    /// The multiplier applied to a W1 with `fan_in` columns.
    pub fn gain_for(&self, fan_in: usize) -> f32 {
        self.gain.unwrap_or((fan_in as f32).sqrt())
    }

    /// Image height and width for a W1 of `rows × cols`.
    pub fn image_size(&self, rows: usize, cols: usize) -> Result<(usize, usize)> {
        let g = self.geometry(1, rows, cols)?;
        Ok((g.out_h, g.out_w))
    }

    /// The averaging block side when antialiasing applies (`None`: plain bilinear).
    fn block(&self, rows: usize, cols: usize) -> Option<usize> {
        let k = (1.0 / self.resize_scale).floor() as usize;
        (self.antialias && k >= 2 && rows >= k && cols >= k).then_some(k)
    }

    fn geometry(&self, planes: usize, rows: usize, cols: usize) -> Result<ResizeGeometry> {
        let s = self.resize_scale;
        if !(s > 0.0 && s.is_finite()) {
            return Err(Error::invalid(
                "weight_image",
                format!("resize scale {s} must be positive and finite"),
            ));
        }
        let g = ResizeGeometry::by_scale(planes, rows, cols, s);
        if g.out_h == 0 || g.out_w == 0 {
            return Err(Error::shape(
                "weight_image",
                format!("a W1 large enough to resize by {s}"),
                format!("{rows}x{cols}"),
            ));
        }
        Ok(g)
    }
}

fn matrix_dims(t: &Tensor) -> Result<(usize, usize)> {
    t.matrix_dims("weight_image")
}

/// Records W1 (hidden × inputs) → resized image · gain, shaped (1, 1, h, w), with the default
/// configuration. Differentiable: the gradient flows back through the resize to W1.
pub fn weight_image(tape: &mut Tape<'_>, w1: Var) -> Result<Var> {
    weight_image_with(tape, w1, &WeightImageConfig::default())
}

/// [`weight_image`] with an explicit configuration.
pub fn weight_image_with(tape: &mut Tape<'_>, w1: Var, cfg: &WeightImageConfig) -> Result<Var> {
    let (rows, cols) = matrix_dims(tape.value(w1))?;
    let (h, w) = cfg.image_size(rows, cols)?;
    let small = match cfg.block(rows, cols) {
        Some(k) => {
            let x = tape.reshape(w1, &[1, 1, rows, cols])?;
            let pooled = tape.avg_pool2d(x, k, k)?;
            tape.resize(pooled, ResizeMode::Bilinear, ResizeTo::Size(h, w))?
        }
        None => tape.resize(w1, ResizeMode::Bilinear, ResizeTo::Scale(cfg.resize_scale))?,
    };
    let scaled = tape.mul_scalar(small, cfg.gain_for(cols));
    tape.reshape(scaled, &[1, 1, h, w])
}

/// The images of K candidate W1s (all the same shape) without a tape, stacked as (K, 1, h, w):
/// the batched input of one ENN forward pass that scores every candidate at once.
pub fn weight_images(w1s: &[&Tensor], cfg: &WeightImageConfig) -> Result<Tensor> {
    let first = w1s
        .first()
        .ok_or_else(|| Error::invalid("weight_images", "no candidates"))?;
    let (rows, cols) = matrix_dims(first)?;
    let k = w1s.len();
    // All K matrices are independent planes of one resize.
    let mut stacked = Vec::with_capacity(k * rows * cols);
    for w in w1s {
        w.expect_dims("weight_images", &[rows, cols])?;
        stacked.extend_from_slice(w.data());
    }
    let g = cfg.geometry(k, rows, cols)?;
    let mut out = vec![0.0f32; g.output_len()]; // (K, h, w)
    match cfg.block(rows, cols) {
        Some(b) => {
            let pg = Pool2dGeometry {
                planes: k,
                h: rows,
                w: cols,
                k: b,
                stride: b,
            };
            let mut pooled = vec![0.0f32; pg.output_len()]; // (K, rows/b, cols/b)
            pool::avg_pool2d_forward(&pg, &stacked, &mut pooled);
            let rg = ResizeGeometry::by_size(k, pg.out_h(), pg.out_w(), g.out_h, g.out_w);
            resize::resize_bilinear(&rg, &pooled, &mut out);
        }
        None => resize::resize_bilinear(&g, &stacked, &mut out),
    }
    let gain = cfg.gain_for(cols);
    out.iter_mut().for_each(|v| *v *= gain);
    Tensor::from_vec(out, &[k, 1, g.out_h, g.out_w])
}
