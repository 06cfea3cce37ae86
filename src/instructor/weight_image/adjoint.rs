//! The adjoint of the image map, `W1 ↦ image(W1)`: how a gradient (or a heat map) over the
//! image goes back to W1.
//!
//! The image is linear in W1: `image = gain · R(W1 ⊙ keep)` with R the resize (after the
//! block average in [`ImageMode::BlockBilinear`]) and `keep` the inert-column mask. So for
//! any function f of the image, `∂f/∂W1 = keep ⊙ Rᵀ(gain · ∂f/∂image)`.
//!
//! [`weight_image_adjoint`] computes it on a tape, by the definition. [`weight_image_adjoint_block`]
//! computes the same bits with the kernels' adjoints directly and, for the bilinear image,
//! only where they can be nonzero: a bilinear resize reads the rows × columns of its
//! [`BilinearFootprint`] (30 × 234 of a 100 × 784 W1), so its adjoint is a [`W1Gradient`]
//! holding that block, not a dense matrix of which 91 % are zeros that a consumer would then
//! scan and add.

use super::{ImageMode, WeightImageConfig};
use crate::autodiff::Tape;
use crate::error::{Error, Result};
use crate::kernels::pool::{self, Pool2dGeometry};
use crate::kernels::resize::{self, BilinearFootprint, ResizeGeometry};
use crate::kernels::scan;
use crate::tensor::Tensor;
use std::cell::RefCell;
use std::rc::Rc;

/// The adjoint of the image map: `map` is (h, w), shaped like the image of a `rows × cols` W1;
/// returns the (rows, cols) matrix `Rᵀ map` — each W1 entry gets the weight with which the
/// image reads it (tap weights, window shares, gain, mask) times the map at the pixels that
/// read it. Exactly 0 on entries the image never reads. This is how a heat map over the image
/// goes back to W1 without inventing heat where the ENN looks at nothing.
///
/// Computed on a tape (the definition); [`weight_image_adjoint_block`] gives the same bits
/// without one.
pub fn weight_image_adjoint(
    map: &Tensor,
    rows: usize,
    cols: usize,
    cfg: &WeightImageConfig,
) -> Result<Tensor> {
    let (h, w) = cfg.image_size(rows, cols)?;
    map.expect_dims("weight_image_adjoint", &[h, w])?;
    // The image is linear in W1, so ∂⟨image(W1), map⟩/∂W1 = Rᵀ map at any W1 (zeros here).
    let w1 = Tensor::zeros(&[rows, cols])?;
    let mut tape = Tape::with_capacity(8);
    let wv = tape.param(&w1);
    let img = super::weight_image_with(&mut tape, wv, cfg)?;
    let m = tape.constant_ref(map);
    let m = tape.reshape(m, &[1, 1, h, w])?;
    let prod = tape.mul(img, m)?;
    let root = tape.sum(prod);
    let mut grads = tape.backward(root)?;
    grads
        .take(wv)
        .ok_or_else(|| Error::invalid("weight_image_adjoint", "no gradient reached W1"))
}

/// A gradient with respect to a (rows × cols) W1 that is exactly +0 outside a block: the
/// entries `rows() × cols()` (increasing index lists), stored row-major in `block()`.
///
/// The bilinear image's adjoint has the footprint of the resize as its block; the other
/// modes read every entry, and their gradient is stored whole (the block is all of W1,
/// [`W1Gradient::is_dense`]).
#[derive(Clone, Debug, PartialEq)]
pub struct W1Gradient {
    dims: [usize; 2],
    rows: Vec<usize>,
    cols: Vec<usize>,
    block: Vec<f32>,
}

impl W1Gradient {
    /// A dense gradient (a matrix) as a `W1Gradient` whose block is the whole matrix.
    pub fn dense(t: Tensor) -> Result<W1Gradient> {
        let (rows, cols) = t.matrix_dims("W1Gradient::dense")?;
        Ok(W1Gradient {
            dims: [rows, cols],
            rows: (0..rows).collect(),
            cols: (0..cols).collect(),
            block: t.into_vec(),
        })
    }

    /// The shape of W1, `[rows, cols]`.
    pub fn dims(&self) -> [usize; 2] {
        self.dims
    }
    /// The rows of the block, increasing.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }
    /// The columns of the block, increasing.
    pub fn cols(&self) -> &[usize] {
        &self.cols
    }
    /// The block's values, `rows().len() × cols().len()`, row-major.
    pub fn block(&self) -> &[f32] {
        &self.block
    }
    /// Whether the block is all of W1 (then [`W1Gradient::block`] is the dense matrix).
    pub fn is_dense(&self) -> bool {
        self.rows.len() == self.dims[0] && self.cols.len() == self.dims[1]
    }

    /// The dense (rows, cols) matrix.
    pub fn into_tensor(self) -> Result<Tensor> {
        if self.is_dense() {
            return Tensor::from_vec(self.block, &self.dims);
        }
        let mut t = Tensor::zeros(&self.dims)?;
        let c = self.dims[1];
        let d = t.data_mut();
        for (values, &r) in self.block_rows().zip(&self.rows) {
            let row = &mut d[r * c..(r + 1) * c];
            values
                .iter()
                .zip(&self.cols)
                .for_each(|(&v, &j)| row[j] = v);
        }
        Ok(t)
    }

    /// The block's rows of values (none for an empty block).
    fn block_rows(&self) -> std::slice::ChunksExact<'_, f32> {
        self.block.chunks_exact(self.cols.len().max(1))
    }

    /// Visits every stored entry as `(flat index into W1, value)`, in increasing flat index.
    pub fn for_each_entry(&self, mut f: impl FnMut(usize, f32)) {
        let c = self.dims[1];
        for (values, &r) in self.block_rows().zip(&self.rows) {
            for (&v, &j) in values.iter().zip(&self.cols) {
                f(r * c + j, v);
            }
        }
    }

    /// `w += alpha · G`, bit for bit `w.add_scaled_(alpha, &G.into_tensor())`.
    ///
    /// Outside the block that is `w + alpha·0`, which leaves `w` unchanged except when `w`
    /// is −0 and `alpha·0` is +0 (the sum is +0) or `alpha·0` is NaN (`alpha` infinite or NaN:
    /// every entry becomes NaN). Only then is the dense pass needed; otherwise just the
    /// block's entries are updated.
    pub fn add_scaled_to(&self, alpha: f32, w: &mut Tensor) -> Result<()> {
        w.expect_dims("W1Gradient::add_scaled_to", &self.dims)?;
        let zero_term = alpha * 0.0;
        let outside_changes = zero_term.is_nan()
            || (zero_term.to_bits() == 0
                && !self.is_dense()
                && scan::contains_negative_zero(w.data()));
        if outside_changes {
            return w.add_scaled_(alpha, &self.clone().into_tensor()?);
        }
        if self.is_dense() {
            // The same expression as `Tensor::add_scaled_`.
            let d = w.data_mut();
            d.iter_mut()
                .zip(&self.block)
                .for_each(|(a, &b)| *a += alpha * b);
            return Ok(());
        }
        let d = w.data_mut();
        self.for_each_entry(|i, v| d[i] += alpha * v);
        Ok(())
    }
}

impl W1Gradient {
    /// The plain SGD step `w −= lr·grad` (`Sgd::step`'s expression, no momentum or decay),
    /// then `w += alpha · G` ([`W1Gradient::add_scaled_to`]), in one pass over `w`, bit for
    /// bit the two passes.
    ///
    /// Every entry is rounded twice, `(w − lr·g) + alpha·G`, as in the two passes; outside
    /// the block the second term is `alpha·0`, added as the dense add adds it (so no search
    /// for −0 is needed). A block row is stepped, its block entries set aside with their
    /// term, the row's outside entries given `alpha·0`, and the block entries put back.
    pub fn sgd_step_then_add_scaled(
        &self,
        w: &mut Tensor,
        grad: &Tensor,
        lr: f32,
        alpha: f32,
    ) -> Result<()> {
        const WHAT: &str = "W1Gradient::sgd_step_then_add_scaled";
        w.expect_dims(WHAT, &self.dims)?;
        grad.expect_dims(WHAT, &self.dims)?;
        let c = self.dims[1];
        let zero_term = alpha * 0.0;
        let mut block_rows = self.rows.iter().zip(self.block_rows()).peekable();
        let mut kept = vec![0.0f32; self.cols.len()];
        let rows = w
            .data_mut()
            .chunks_exact_mut(c)
            .zip(grad.data().chunks_exact(c));
        for (r, (w_row, g_row)) in rows.enumerate() {
            let Some((_, values)) = block_rows.next_if(|&(&br, _)| br == r) else {
                w_row
                    .iter_mut()
                    .zip(g_row)
                    .for_each(|(w, &g)| *w = (*w - lr * g) + zero_term);
                continue;
            };
            w_row.iter_mut().zip(g_row).for_each(|(w, &g)| *w -= lr * g);
            for ((k, &j), &v) in kept.iter_mut().zip(&self.cols).zip(values) {
                *k = w_row[j] + alpha * v;
            }
            w_row.iter_mut().for_each(|w| *w += zero_term);
            for (&k, &j) in kept.iter().zip(&self.cols) {
                w_row[j] = k;
            }
        }
        Ok(())
    }
}

/// [`weight_image_adjoint`] without a tape, as a [`W1Gradient`]: bit for bit the same matrix
/// (`weight_image_adjoint(..) == weight_image_adjoint_block(..).into_tensor()`), computed
/// with the kernels' adjoints in the order the tape applies them: the gain, the resize's
/// adjoint (and the block average's), the mask. For the bilinear image only the resize's
/// footprint is computed and stored; the other modes give a dense gradient.
///
/// `map` may also carry the image's leading unit axes, (1, 1, h, w), as the ENN's input
/// gradient does.
pub fn weight_image_adjoint_block(
    map: &Tensor,
    rows: usize,
    cols: usize,
    cfg: &WeightImageConfig,
) -> Result<W1Gradient> {
    let (h, w) = cfg.image_size(rows, cols)?;
    if map.dims() != [h, w] && map.dims() != [1, 1, h, w] {
        map.expect_dims("weight_image_adjoint_block", &[h, w])?;
    }
    cfg.check_inert(cols)?;
    // The tape's mul_scalar rule: gain · ḡ. (Where the tape adds it onto a zero-filled
    // adjoint instead, a −0 becomes +0; the resize adjoints below add every term onto +0,
    // which makes the sign of a zero term irrelevant, so both give the same bits.)
    let gain = cfg.gain_for(cols);
    let d: Vec<f32> = map.data().iter().map(|&m| gain * m).collect();
    let g = cfg.geometry(1, rows, cols)?;
    let mut grad = match (cfg.mode, cfg.block(rows, cols)) {
        (_, Some(k)) => block_bilinear_adjoint(&g, k, &d)?,
        (ImageMode::Area, None) => {
            let ag = ResizeGeometry::by_size(1, rows, cols, g.out_h, g.out_w);
            let mut dense = vec![0.0f32; rows * cols];
            resize::resize_area_adjoint(&ag, &d, &mut dense);
            W1Gradient::dense(Tensor::from_vec(dense, &[rows, cols])?)?
        }
        (_, None) => {
            let fp = footprint(&g);
            let mut block = vec![0.0f32; fp.block_len()];
            resize::resize_bilinear_adjoint_block(&g, &fp, &d, &mut block);
            W1Gradient {
                dims: [rows, cols],
                rows: fp.rows().to_vec(),
                cols: fp.cols().to_vec(),
                block,
            }
        }
    };
    if let Some(m) = &cfg.inert {
        // The tape's mul rule adds ḡ ⊙ keep onto a zero-filled adjoint: `0 + v·k` (+0 where
        // v·k is −0), written out so the bits match.
        let keep = m.keep();
        let ncols = grad.cols.len().max(1);
        for values in grad.block.chunks_exact_mut(ncols) {
            for (v, &j) in values.iter_mut().zip(&grad.cols) {
                *v = 0.0 + *v * keep[j];
            }
        }
    }
    Ok(grad)
}

thread_local! {
    /// The last footprint built and its geometry: a run keeps W1's shape, so its tap tables
    /// are built once rather than on every universal step.
    static FOOTPRINT: RefCell<Option<(ResizeGeometry, Rc<BilinearFootprint>)>> =
        const { RefCell::new(None) };
}

/// [`BilinearFootprint::of`] `g`, from the per-thread cache when `g` is the last geometry.
fn footprint(g: &ResizeGeometry) -> Rc<BilinearFootprint> {
    FOOTPRINT.with(|cache| {
        let mut cache = cache.borrow_mut();
        match &*cache {
            Some((cached, fp)) if cached == g => Rc::clone(fp),
            _ => {
                let fp = Rc::new(BilinearFootprint::of(g));
                *cache = Some((*g, Rc::clone(&fp)));
                fp
            }
        }
    })
}

/// The adjoint of [`ImageMode::BlockBilinear`]'s image (before the mask): the bilinear
/// adjoint into the (rows/k, cols/k) average, then the average's adjoint into W1, each onto
/// a zero-filled buffer as the tape does.
fn block_bilinear_adjoint(g: &ResizeGeometry, k: usize, d: &[f32]) -> Result<W1Gradient> {
    let (rows, cols) = (g.in_h, g.in_w);
    let pg = Pool2dGeometry {
        planes: 1,
        h: rows,
        w: cols,
        k,
        stride: k,
    };
    let rg = ResizeGeometry::by_size(1, pg.out_h(), pg.out_w(), g.out_h, g.out_w);
    let mut pooled = vec![0.0f32; pg.output_len()];
    resize::resize_bilinear_adjoint(&rg, d, &mut pooled);
    let mut dense = vec![0.0f32; rows * cols];
    pool::avg_pool2d_backward(&pg, &pooled, &mut dense);
    W1Gradient::dense(Tensor::from_vec(dense, &[rows, cols])?)
}
