//! The im2col path: unfold each sample into its column matrix, one matrix product per sample
//! (sgemm, or the unpacked products of `small` for short reductions), and for the input
//! gradient the fold back ([`col2im_add`]).
//!
//! For one sample `b`, the column matrix is
//! `col[(c·kh + u)·kw + v, i·ow + j] = x[b, c, i·s+u-p, j·s+v-p]` (0 in the padding), shape
//! `(K, P)` with `K = c_in·kh·kw` and `P = oh·ow`. With `W` viewed as `(c_out, K)` and the
//! sample's output / output gradient as `(c_out, P)`:
//!
//! ```text
//! forward:          Y_b  = W · col             (Y_b prefilled with the bias, beta = 1)
//! weight gradient:  dW  += dY_b · colᵀ         (B = col used transposed, beta = 1)
//! input gradient:   dcol = Wᵀ · dY_b,  dx_b += col2im(dcol)   (A = W used transposed)
//! ```
//!
//! Neither transpose is materialized. A 1×1, stride-1, unpadded convolution needs no unfolding
//! at all: `col` is `x_b` itself and the input gradient goes straight into `dx_b` with beta = 1.

use super::{Conv2dGeometry, ConvGemm};
use crate::kernels::isa::{self, Isa};
use crate::kernels::matmul::{sgemm_with, small, Gemm};
use std::cell::RefCell;

thread_local! {
    /// Per-thread column buffer, grown on demand and kept, so repeated calls do not allocate.
    static COL_SCRATCH: RefCell<Vec<f32>> = const { RefCell::new(Vec::new()) };
}

/// Runs `f` with a scratch slice of `len` elements (contents unspecified). Uses the
/// thread-local buffer; a re-entrant call (not expected) falls back to a fresh allocation.
fn with_col_scratch<R>(len: usize, f: impl FnOnce(&mut [f32]) -> R) -> R {
    COL_SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut buf) => {
            if buf.len() < len {
                buf.resize(len, 0.0);
            }
            f(&mut buf[..len])
        }
        Err(_) => f(&mut vec![0.0; len]),
    })
}

impl Conv2dGeometry {
    /// Output columns `[lo, hi)` whose tap `t` reads inside `0..len` along one axis: those
    /// with `0 <= j*s + t - p < len`. Outside this range the tap reads padding.
    #[inline(always)]
    fn valid_range(&self, t: usize, len: usize, out: usize) -> (usize, usize) {
        let s = self.stride;
        // j*s + t >= p  <=>  j >= ceil((p - t) / s)
        let lo = self.pad.saturating_sub(t).div_ceil(s);
        // j*s + t - p <= len - 1  <=>  j <= (len - 1 + p - t) / s
        let hi = (len + self.pad)
            .checked_sub(t + 1)
            .map_or(0, |d| d / s + 1)
            .min(out);
        (lo.min(hi), hi)
    }
}

/// Unfolds sample `x_b` (c_in, h, w) into `col` (K, P); every element of `col` is written.
pub fn im2col(g: &Conv2dGeometry, x_b: &[f32], col: &mut [f32]) {
    let (oh, ow, s) = (g.out_h(), g.out_w(), g.stride);
    debug_assert_eq!(x_b.len(), g.c_in * g.h * g.w);
    debug_assert_eq!(col.len(), g.col_rows() * oh * ow);
    if oh * ow == 0 {
        return;
    }
    let mut rows = col.chunks_exact_mut(oh * ow);
    for c in 0..g.c_in {
        let plane = &x_b[c * g.h * g.w..(c + 1) * g.h * g.w];
        for u in 0..g.kh {
            for v in 0..g.kw {
                let row = rows.next().expect("col has c_in*kh*kw rows");
                let (j_lo, j_hi) = g.valid_range(v, g.w, ow);
                for (i, out) in row.chunks_exact_mut(ow).enumerate() {
                    let Some(y) = g.source(i, u, g.h) else {
                        out.fill(0.0);
                        continue;
                    };
                    let src = &plane[y * g.w..(y + 1) * g.w];
                    out[..j_lo].fill(0.0);
                    out[j_hi..].fill(0.0);
                    if j_lo == j_hi {
                        continue;
                    }
                    // First source column read; j_lo*s + v >= p by construction of j_lo.
                    let x0 = j_lo * s + v - g.pad;
                    if s == 1 {
                        out[j_lo..j_hi].copy_from_slice(&src[x0..x0 + (j_hi - j_lo)]);
                    } else {
                        for (k, o) in out[j_lo..j_hi].iter_mut().enumerate() {
                            *o = src[x0 + k * s];
                        }
                    }
                }
            }
        }
    }
}

/// Folds `col` (K, P) back onto sample `dx_b` (c_in, h, w), accumulating: the adjoint of
/// [`im2col`].
pub fn col2im_add(g: &Conv2dGeometry, col: &[f32], dx_b: &mut [f32]) {
    let (oh, ow, s) = (g.out_h(), g.out_w(), g.stride);
    debug_assert_eq!(dx_b.len(), g.c_in * g.h * g.w);
    debug_assert_eq!(col.len(), g.col_rows() * oh * ow);
    if oh * ow == 0 {
        return;
    }
    let mut rows = col.chunks_exact(oh * ow);
    for c in 0..g.c_in {
        let plane = &mut dx_b[c * g.h * g.w..(c + 1) * g.h * g.w];
        for u in 0..g.kh {
            for v in 0..g.kw {
                let row = rows.next().expect("col has c_in*kh*kw rows");
                let (j_lo, j_hi) = g.valid_range(v, g.w, ow);
                for (i, src) in row.chunks_exact(ow).enumerate() {
                    let Some(y) = g.source(i, u, g.h) else {
                        continue;
                    };
                    if j_lo == j_hi {
                        continue;
                    }
                    let dst = &mut plane[y * g.w..(y + 1) * g.w];
                    let x0 = j_lo * s + v - g.pad;
                    if s == 1 {
                        let n = j_hi - j_lo;
                        for (d, a) in dst[x0..x0 + n].iter_mut().zip(&src[j_lo..j_hi]) {
                            *d += a;
                        }
                    } else {
                        for (k, a) in src[j_lo..j_hi].iter().enumerate() {
                            dst[x0 + k * s] += a;
                        }
                    }
                }
            }
        }
    }
}

/// The batch loop shared by the three fast kernels: `step(b, col)` for every sample `b`, with
/// `col` a K×P scratch column matrix (contents unspecified), or `None` for a pointwise
/// convolution, whose column matrix is the sample itself.
pub(super) fn for_each_sample(g: &Conv2dGeometry, mut step: impl FnMut(usize, Option<&mut [f32]>)) {
    if g.is_pointwise() {
        (0..g.n).for_each(|b| step(b, None));
        return;
    }
    with_col_scratch(g.col_rows() * g.out_h() * g.out_w(), |col| {
        for b in 0..g.n {
            step(b, Some(&mut *col));
        }
    })
}

/// The column matrix of sample `x_b`: unfolded into `col`, or `x_b` itself when pointwise.
pub(super) fn columns<'a>(
    g: &Conv2dGeometry,
    x_b: &'a [f32],
    col: Option<&'a mut [f32]>,
) -> &'a [f32] {
    match col {
        Some(col) => {
            im2col(g, x_b, col);
            col
        }
        None => x_b,
    }
}

/// One per-sample product `C = op(A) · op(B) + beta C` (alpha 1, beta 0 or 1) on `engine`
/// (already resolved to `Sgemm` or `Direct`): sgemm, or the unpacked accumulate-only
/// products of [`small`] (C zeroed first when beta = 0).
pub(super) fn product(isa: Isa, engine: ConvGemm, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    debug_assert!(g.alpha == 1.0 && (g.beta == 0.0 || g.beta == 1.0));
    if engine != ConvGemm::Direct {
        return sgemm_with(isa, isa::num_threads(), g, a, b, c);
    }
    if g.beta == 0.0 {
        c.fill(0.0);
    }
    if g.trans_b {
        debug_assert!(!g.trans_a);
        small::acc_nt_with(isa, (g.m, g.k, g.n), a, b, c)
    } else {
        let strides = if g.trans_a { (1, g.m) } else { (g.k, 1) };
        small::acc_nn_with(isa, (g.m, g.k, g.n), a, strides, b, c)
    }
}
