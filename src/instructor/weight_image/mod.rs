//! The ENN's input: the target MLP's first weight matrix W1 seen as a one-channel image.
//!
//! W1 is (hidden × inputs), e.g. 100 × 784. The paper downsamples it to 0.15 per side before
//! the ENN sees it; with PyTorch `F.interpolate(scale_factor=0.15, ...)` semantics that gives
//! `floor(100·0.15) × floor(784·0.15)` = 15 × 117.
//!
//! Our reconstruction (the paper's text is not available, only its abstract):
//! * the image is multiplied by a *fixed* gain `√fan_in` (fan_in = W1's column count, 784 on
//!   MNIST). PyTorch's default init draws W1 from U(±1/√fan_in), so the gain maps it to
//!   U(±1): values of order one for the ENN's convolutions, while a state whose weights grew
//!   or shrank still looks bigger or smaller. A per-image normalization would hide exactly the
//!   magnitude information that separates good from bad initial scales.
//! * how the resize reads W1 is an [`ImageMode`]:
//!   - [`ImageMode::Bilinear`] (the default, PyTorch's `mode="bilinear"` without antialias):
//!     each output pixel reads a 2 × 2 neighbourhood of W1, so the image reads 30 of 100 rows
//!     and 234 of 784 columns — at most 7 020 of W1's 78 400 entries receive any gradient from
//!     the ENN;
//!   - [`ImageMode::Area`] (`mode="area"`, adaptive average pooling): each output pixel is the
//!     mean of a window, the windows cover W1, so every entry influences the image;
//!   - [`ImageMode::BlockBilinear`] (the earlier "antialias" option, kept so its runs can be
//!     repeated): the mean of `⌊1/scale⌋`-blocks, then bilinear to the same size; the rows
//!     and columns beyond the last whole block (4 and 4 on 100 × 784) are never read.
//! * optionally, [`InertColumns`]: the columns of W1 whose input pixel is (almost) constant
//!   over the training set are zeroed before the resize. Those weights get no cross-entropy
//!   gradient (their input is always ~0), so they only record the init; masking them keeps the
//!   ENN from reading — and universal backprop from moving — weights that change nothing the
//!   MLP computes. The mask is computed from data ([`InertColumns::from_data`]), so it is part
//!   of the configuration an ENN is trained with and saved with.
//!
//! The configuration is serializable ([`WeightImageConfig::to_json`]): the ENN's weights file
//! records it, so a reloaded ENN sees W1 the way it was trained to.

use crate::autodiff::{ResizeTo, Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::pool::{self, Pool2dGeometry};
use crate::kernels::resize::{self, ResizeGeometry, ResizeMode};
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};

mod adjoint;
pub use adjoint::{weight_image_adjoint, weight_image_adjoint_block, W1Gradient};

/// How the resize reads W1 (see the module docs).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ImageMode {
    /// Bilinear, `align_corners=False`, no antialias: ≤ 4 taps per output pixel.
    #[default]
    Bilinear,
    /// Area (adaptive average pooling): every entry of W1 contributes.
    Area,
    /// Mean over `⌊1/scale⌋`-blocks, then bilinear (the earlier `antialias = true`).
    BlockBilinear,
}

impl ImageMode {
    /// Parses a command-line name: `bilinear`, `area` or `block-bilinear`.
    pub fn parse(s: &str) -> Result<ImageMode> {
        match s {
            "bilinear" => Ok(ImageMode::Bilinear),
            "area" => Ok(ImageMode::Area),
            "block-bilinear" => Ok(ImageMode::BlockBilinear),
            _ => Err(Error::Usage(format!(
                "image mode {s:?}: expected bilinear, area or block-bilinear"
            ))),
        }
    }

    /// The command-line name ([`ImageMode::parse`] inverts it).
    pub fn name(self) -> &'static str {
        match self {
            ImageMode::Bilinear => "bilinear",
            ImageMode::Area => "area",
            ImageMode::BlockBilinear => "block-bilinear",
        }
    }

    /// Every mode, in a fixed order.
    pub const ALL: [ImageMode; 3] = [
        ImageMode::Bilinear,
        ImageMode::Area,
        ImageMode::BlockBilinear,
    ];
}

/// Default pixel-variance threshold below which an input column counts as inert.
pub const DEFAULT_INERT_THRESHOLD: f64 = 1e-3;

/// The input columns of W1 whose pixel is (almost) constant over a training set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct InertColumns {
    /// Variance threshold the columns were selected with (in the data's units; MNIST pixels
    /// are in [0, 1]).
    pub threshold: f64,
    /// W1's column count (the data's dimension) the mask was made for.
    pub n_inputs: usize,
    /// Inert column indices, increasing.
    pub columns: Vec<usize>,
}

/// Population variance of every input dimension over `n = images.len() / dim` examples
/// (row-major `(n, dim)`), accumulated in f64 by the two-pass formula.
pub fn pixel_variance(images: &[f32], dim: usize) -> Result<Vec<f64>> {
    if dim == 0 || images.is_empty() || !images.len().is_multiple_of(dim) {
        return Err(Error::shape(
            "pixel_variance",
            format!("a non-empty (n, {dim}) matrix"),
            format!("{} values", images.len()),
        ));
    }
    let n = (images.len() / dim) as f64;
    let mut mean = vec![0.0f64; dim];
    for row in images.chunks_exact(dim) {
        mean.iter_mut().zip(row).for_each(|(m, &x)| *m += x as f64);
    }
    mean.iter_mut().for_each(|m| *m /= n);
    let mut var = vec![0.0f64; dim];
    for row in images.chunks_exact(dim) {
        for ((v, &m), &x) in var.iter_mut().zip(&mean).zip(row) {
            let d = x as f64 - m;
            *v += d * d;
        }
    }
    var.iter_mut().for_each(|v| *v /= n);
    Ok(var)
}

impl InertColumns {
    /// The columns whose variance over `images` (row-major `(n, dim)`) is below `threshold`.
    pub fn from_data(images: &[f32], dim: usize, threshold: f64) -> Result<InertColumns> {
        if !(threshold.is_finite() && threshold >= 0.0) {
            return Err(Error::invalid(
                "InertColumns::from_data",
                format!("threshold {threshold} must be finite and >= 0"),
            ));
        }
        let var = pixel_variance(images, dim)?;
        Ok(InertColumns::from_variance(&var, threshold))
    }

    /// The columns whose entry of `variance` is below `threshold`.
    pub fn from_variance(variance: &[f64], threshold: f64) -> InertColumns {
        InertColumns {
            threshold,
            n_inputs: variance.len(),
            columns: (0..variance.len())
                .filter(|&c| variance[c] < threshold)
                .collect(),
        }
    }

    /// 1 for a column the image reads, 0 for an inert one: `n_inputs` values.
    pub fn keep(&self) -> Vec<f32> {
        let mut keep = vec![1.0f32; self.n_inputs];
        self.columns.iter().for_each(|&c| keep[c] = 0.0);
        keep
    }

    fn check(&self, cols: usize) -> Result<()> {
        if self.n_inputs != cols || self.columns.iter().any(|&c| c >= cols) {
            return Err(Error::shape(
                "weight_image",
                format!("an inert-column mask for {cols} inputs"),
                format!("a mask for {} inputs", self.n_inputs),
            ));
        }
        Ok(())
    }
}

/// How W1 becomes the ENN's image.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct WeightImageConfig {
    /// Resize factor per side (paper: 0.15).
    pub resize_scale: f64,
    /// Fixed multiplier of the resized image; `None` means `√fan_in` (our reconstruction).
    pub gain: Option<f32>,
    /// How the resize reads W1.
    pub mode: ImageMode,
    /// Input columns zeroed before the resize (`None`: none).
    pub inert: Option<InertColumns>,
}

impl Default for WeightImageConfig {
    fn default() -> Self {
        WeightImageConfig {
            resize_scale: 0.15,
            gain: None,
            mode: ImageMode::Bilinear,
            inert: None,
        }
    }
}

impl WeightImageConfig {
    /// The default configuration with `mode`.
    pub fn with_mode(mode: ImageMode) -> WeightImageConfig {
        WeightImageConfig {
            mode,
            ..WeightImageConfig::default()
        }
    }

    /// The multiplier applied to a W1 with `fan_in` columns.
    pub fn gain_for(&self, fan_in: usize) -> f32 {
        self.gain.unwrap_or((fan_in as f32).sqrt())
    }

    /// Image height and width for a W1 of `rows × cols`.
    pub fn image_size(&self, rows: usize, cols: usize) -> Result<(usize, usize)> {
        let g = self.geometry(1, rows, cols)?;
        Ok((g.out_h, g.out_w))
    }

    /// A short description for reports: `"area"`, `"bilinear, 239 inert columns masked"`.
    pub fn describe(&self) -> String {
        match &self.inert {
            Some(m) => format!(
                "{}, {} inert columns masked (variance < {:e})",
                self.mode.name(),
                m.columns.len(),
                m.threshold
            ),
            None => self.mode.name().to_string(),
        }
    }

    /// One line of JSON (the form a weights file stores).
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).expect("a plain struct always serializes")
    }

    /// Parses [`WeightImageConfig::to_json`]'s output.
    pub fn from_json(s: &str) -> Result<WeightImageConfig> {
        let cfg: WeightImageConfig = serde_json::from_str(s).map_err(|e| {
            Error::invalid(
                "WeightImageConfig::from_json",
                format!("not an image configuration: {e}"),
            )
        })?;
        if !(cfg.resize_scale > 0.0 && cfg.resize_scale.is_finite()) {
            return Err(Error::invalid(
                "WeightImageConfig::from_json",
                format!(
                    "resize scale {} must be positive and finite",
                    cfg.resize_scale
                ),
            ));
        }
        Ok(cfg)
    }

    /// The averaging block side of [`ImageMode::BlockBilinear`] (`None`: the mode is another
    /// one, or W1 is smaller than a block, and the plain bilinear resize applies).
    fn block(&self, rows: usize, cols: usize) -> Option<usize> {
        let k = (1.0 / self.resize_scale).floor() as usize;
        (self.mode == ImageMode::BlockBilinear && k >= 2 && rows >= k && cols >= k).then_some(k)
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

    fn check_inert(&self, cols: usize) -> Result<()> {
        self.inert.as_ref().map_or(Ok(()), |m| m.check(cols))
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
    cfg.check_inert(cols)?;
    let w1 = match &cfg.inert {
        // W1 ⊙ keep (keep broadcast over the rows): the inert columns' gradient is exactly 0.
        Some(m) => {
            let keep = tape.constant(Tensor::from_vec(m.keep(), &[cols])?);
            tape.mul(w1, keep)?
        }
        None => w1,
    };
    let small = match (cfg.mode, cfg.block(rows, cols)) {
        (_, Some(k)) => {
            let x = tape.reshape(w1, &[1, 1, rows, cols])?;
            let pooled = tape.avg_pool2d(x, k, k)?;
            tape.resize(pooled, ResizeMode::Bilinear, ResizeTo::Size(h, w))?
        }
        (ImageMode::Area, None) => tape.resize(w1, ResizeMode::Area, ResizeTo::Size(h, w))?,
        (_, None) => tape.resize(w1, ResizeMode::Bilinear, ResizeTo::Scale(cfg.resize_scale))?,
    };
    let scaled = tape.mul_scalar(small, cfg.gain_for(cols));
    tape.reshape(scaled, &[1, 1, h, w])
}

/// The images of K candidate W1s (all the same shape) without a tape, stacked as (K, 1, h, w):
/// the batched input of one ENN forward pass that scores every candidate at once.
/// Bit-identical to [`weight_image_with`] per candidate (same kernels, same order). Each
/// candidate is resized straight from its own storage (the resize treats planes
/// independently, so one call per candidate gives the same bits as one call on a stacked
/// copy); only a masked candidate is copied, to zero its inert columns.
pub fn weight_images(w1s: &[&Tensor], cfg: &WeightImageConfig) -> Result<Tensor> {
    let first = w1s
        .first()
        .ok_or_else(|| Error::invalid("weight_images", "no candidates"))?;
    let (rows, cols) = matrix_dims(first)?;
    cfg.check_inert(cols)?;
    let g = cfg.geometry(1, rows, cols)?;
    let keep = cfg.inert.as_ref().map(InertColumns::keep);
    let mut masked = Vec::new();
    let mut out = vec![0.0f32; w1s.len() * g.output_len()]; // (K, h, w)
    for (w, image) in w1s.iter().zip(out.chunks_exact_mut(g.output_len())) {
        w.expect_dims("weight_images", &[rows, cols])?;
        let src = match &keep {
            None => w.data(),
            Some(keep) => {
                masked.clear();
                masked.extend_from_slice(w.data());
                for row in masked.chunks_exact_mut(cols) {
                    row.iter_mut().zip(keep).for_each(|(x, &k)| *x *= k);
                }
                &masked[..]
            }
        };
        cfg.resize_one(&g, src, image);
    }
    let gain = cfg.gain_for(cols);
    out.iter_mut().for_each(|v| *v *= gain);
    Tensor::from_vec(out, &[w1s.len(), 1, g.out_h, g.out_w])
}

impl WeightImageConfig {
    /// The resize of one (rows × cols) W1 (already masked) into its image `out` (before the
    /// gain), by this configuration's mode; `g` is [`WeightImageConfig::geometry`] with one
    /// plane.
    fn resize_one(&self, g: &ResizeGeometry, w1: &[f32], out: &mut [f32]) {
        let (rows, cols) = (g.in_h, g.in_w);
        match (self.mode, self.block(rows, cols)) {
            (_, Some(b)) => {
                let pg = Pool2dGeometry {
                    planes: 1,
                    h: rows,
                    w: cols,
                    k: b,
                    stride: b,
                };
                let mut pooled = vec![0.0f32; pg.output_len()]; // (rows/b, cols/b)
                pool::avg_pool2d_forward(&pg, w1, &mut pooled);
                let rg = ResizeGeometry::by_size(1, pg.out_h(), pg.out_w(), g.out_h, g.out_w);
                resize::resize_bilinear(&rg, &pooled, out);
            }
            (ImageMode::Area, None) => {
                let ag = ResizeGeometry::by_size(1, rows, cols, g.out_h, g.out_w);
                resize::resize_area(&ag, w1, out);
            }
            (_, None) => resize::resize_bilinear(g, w1, out),
        }
    }
}
