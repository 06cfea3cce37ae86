//! 2-D convolution, NCHW, with stride and zero padding (cross-correlation, as in PyTorch).
//!
//! Forward: `y[b,o,i,j] = bias[o] + sum_{c,u,v} w[o,c,u,v] * x[b,c, i*s+u-p, j*s+v-p]`
//! (x read as 0 outside the image). Shapes: x (n, c_in, h, w), w (c_out, c_in, kh, kw),
//! y (n, c_out, out_h, out_w).
//!
//! The backward products accumulate (`+=`) into their outputs, the way the autodiff tape
//! sums gradients:
//! `dx[b,c,y,x] += sum w[o,c,u,v] * dy[b,o,i,j]` over all (o,u,v,i,j) that read (y,x), and
//! `dw[o,c,u,v] += sum_{b,i,j} dy[b,o,i,j] * x[b,c,i*s+u-p,j*s+v-p]`.
//!
//! ## Convolution as three matrix products (im2col)
//!
//! Unfold each sample's input into a column matrix `X_col` (c_in·kh·kw × out_h·out_w) whose
//! column `(i,j)` holds the receptive field of output `(i,j)` ([`im2col`]). With the filters as
//! a matrix `W` (c_out × c_in·kh·kw) the convolution is one product, and its two adjoints are
//! the other two:
//!
//! ```text
//! Y     = W · X_col                      (forward)
//! dW   += dY · X_colᵀ                    (weight gradient)
//! dXcol = Wᵀ · dY,  dx += col2im(dXcol)  (input gradient)
//! ```
//!
//! `col2im` ([`col2im_add`]) is the adjoint of `im2col`: it scatters each column entry back to
//! the input pixel it was copied from, summing where receptive fields overlap. That is why the
//! input gradient is a *transposed* convolution: every input pixel collects `w · dy` from each
//! output that read it. All three products run on [`super::matmul::sgemm`] with its transpose
//! flags (no transpose is materialized); for very short reductions (≤ 16 terms) a direct loop
//! without packing is faster, and [`ConvGemm::Auto`] chooses per product by measurement.

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels (filters).
    pub c_out: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (same in both directions), at least 1.
    pub stride: usize,
    /// Zero padding on each side (same in both directions).
    pub pad: usize,
}

impl Conv2dGeometry {
    /// Output height `(h + 2p - kh) / s + 1`; 0 if the kernel does not fit.
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad)
            .checked_sub(self.kh)
            .map_or(0, |d| d / self.stride + 1)
    }
    /// Output width `(w + 2p - kw) / s + 1`; 0 if the kernel does not fit.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad)
            .checked_sub(self.kw)
            .map_or(0, |d| d / self.stride + 1)
    }
    /// Elements of x.
    pub fn input_len(&self) -> usize {
        self.n * self.c_in * self.h * self.w
    }
    /// Elements of w.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.c_in * self.kh * self.kw
    }
    /// Elements of y.
    pub fn output_len(&self) -> usize {
        self.n * self.c_out * self.out_h() * self.out_w()
    }
    /// Multiply-adds of the forward pass (each backward product costs the same).
    pub fn macs(&self) -> usize {
        self.output_len() * self.c_in * self.kh * self.kw
    }

    /// Input coordinate read by output position `o` and kernel tap `t` along one axis, or
    /// `None` when it falls in the zero padding.
    #[inline(always)]
    fn source(&self, o: usize, t: usize, len: usize) -> Option<usize> {
        (o * self.stride + t)
            .checked_sub(self.pad)
            .filter(|&s| s < len)
    }
}

/// Forward convolution by the definition (7 nested loops). Overwrites `output`.
pub fn conv2d_forward_reference(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(weight.len(), g.weight_len());
    debug_assert_eq!(output.len(), g.output_len());
    for b in 0..g.n {
        for o in 0..g.c_out {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = bias.map_or(0.0, |bs| bs[o] as f64);
                    for c in 0..g.c_in {
                        for u in 0..g.kh {
                            let Some(y) = g.source(i, u, g.h) else {
                                continue;
                            };
                            for v in 0..g.kw {
                                let Some(x) = g.source(j, v, g.w) else {
                                    continue;
                                };
                                let wv = weight[((o * g.c_in + c) * g.kh + u) * g.kw + v];
                                let xv = input[((b * g.c_in + c) * g.h + y) * g.w + x];
                                acc += wv as f64 * xv as f64;
                            }
                        }
                    }
                    output[((b * g.c_out + o) * oh + i) * ow + j] = acc as f32;
                }
            }
        }
    }
}

/// Input gradient by the definition. Accumulates into `grad_input`.
pub fn conv2d_backward_input_reference(
    g: &Conv2dGeometry,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for b in 0..g.n {
        for o in 0..g.c_out {
            for i in 0..oh {
                for j in 0..ow {
                    let dy = grad_output[((b * g.c_out + o) * oh + i) * ow + j];
                    for c in 0..g.c_in {
                        for u in 0..g.kh {
                            let Some(y) = g.source(i, u, g.h) else {
                                continue;
                            };
                            for v in 0..g.kw {
                                let Some(x) = g.source(j, v, g.w) else {
                                    continue;
                                };
                                let wv = weight[((o * g.c_in + c) * g.kh + u) * g.kw + v];
                                grad_input[((b * g.c_in + c) * g.h + y) * g.w + x] += wv * dy;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Weight gradient by the definition. Accumulates into `grad_weight`.
pub fn conv2d_backward_weight_reference(
    g: &Conv2dGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            for u in 0..g.kh {
                for v in 0..g.kw {
                    let mut acc = 0.0f64;
                    for b in 0..g.n {
                        for i in 0..oh {
                            let Some(y) = g.source(i, u, g.h) else {
                                continue;
                            };
                            for j in 0..ow {
                                let Some(x) = g.source(j, v, g.w) else {
                                    continue;
                                };
                                let dy = grad_output[((b * g.c_out + o) * oh + i) * ow + j];
                                let xv = input[((b * g.c_in + c) * g.h + y) * g.w + x];
                                acc += dy as f64 * xv as f64;
                            }
                        }
                    }
                    grad_weight[((o * g.c_in + c) * g.kh + u) * g.kw + v] += acc as f32;
                }
            }
        }
    }
}

/// Bias gradient: `db[o] += sum_{b,i,j} dy[b,o,i,j]`.
pub fn conv2d_backward_bias(g: &Conv2dGeometry, grad_output: &[f32], grad_bias: &mut [f32]) {
    let plane = g.out_h() * g.out_w();
    for b in 0..g.n {
        for o in 0..g.c_out {
            let start = (b * g.c_out + o) * plane;
            grad_bias[o] += grad_output[start..start + plane].iter().sum::<f32>();
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Fast path: im2col + sgemm.
//
// For one sample b, unfold the input into the column matrix
//   col[(c*kh + u)*kw + v, i*ow + j] = x[b, c, i*s+u-p, j*s+v-p]   (0 in the padding),
// shape (K, P) with K = c_in*kh*kw and P = oh*ow. Then, with W viewed as (c_out, K) and the
// sample's output / output gradient as (c_out, P):
//   forward:          Y_b  = W · col              (after prefilling Y_b with the bias, beta = 1)
//   weight gradient:  dW  += dY_b · col^T          (B = col used transposed, beta = 1)
//   input gradient:   dcol = W^T · dY_b,  dx_b += col2im(dcol)   (A = W used transposed)
// Neither transpose is materialized. A 1×1, stride-1, unpadded convolution needs no unfolding
// at all: col is x_b itself and the input gradient goes straight into dx_b with beta = 1.
// ---------------------------------------------------------------------------------------------

use super::matmul::{sgemm, Gemm};
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
    /// Rows of the column matrix: `c_in * kh * kw`.
    pub fn col_rows(&self) -> usize {
        self.c_in * self.kh * self.kw
    }

    /// Whether the convolution is a plain channel mix (1×1, stride 1, no padding), for which
    /// the column matrix is the input itself.
    fn is_pointwise(&self) -> bool {
        self.kh == 1 && self.kw == 1 && self.stride == 1 && self.pad == 0
    }

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

/// Fast forward: im2col, then one product per sample (sgemm or the direct kernel, chosen by
/// size), bias prefilled. Overwrites `output`.
pub fn conv2d_forward(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    conv2d_forward_with(ConvGemm::Auto, g, input, weight, bias, output)
}

/// [`conv2d_forward`] with an explicit product engine (for tests and benches).
pub fn conv2d_forward_with(
    engine: ConvGemm,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(weight.len(), g.weight_len());
    debug_assert_eq!(output.len(), g.output_len());
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if g.output_len() == 0 {
        return;
    }
    let in_len = g.c_in * g.h * g.w;
    if in_len == 0 {
        // No input elements: every output is its bias (or 0).
        return conv2d_forward_reference(g, input, weight, bias, output);
    }
    // Y_b (c_out, P) = bias ⊗ 1 + W (c_out, K) · col (K, P).
    let prefill = |y_b: &mut [f32]| match bias {
        Some(bs) => {
            for (row, &b) in y_b.chunks_exact_mut(p).zip(bs) {
                row.fill(b);
            }
        }
        None => y_b.fill(0.0),
    };
    let engine = engine.resolve(k);
    let product = |col: &[f32], y_b: &mut [f32]| match engine {
        ConvGemm::Direct => acc_nn(g.c_out, k, p, weight, k, 1, col, y_b),
        _ => sgemm(
            &Gemm {
                beta: 1.0,
                ..Gemm::new(g.c_out, k, p)
            },
            weight,
            col,
            y_b,
        ),
    };
    let pairs = input
        .chunks_exact(in_len)
        .zip(output.chunks_exact_mut(g.c_out * p));
    if g.is_pointwise() {
        for (x_b, y_b) in pairs {
            prefill(y_b);
            product(x_b, y_b);
        }
        return;
    }
    with_col_scratch(k * p, |col| {
        for (x_b, y_b) in pairs {
            im2col(g, x_b, col);
            prefill(y_b);
            product(col, y_b);
        }
    })
}

/// Fast input gradient: `dcol = W^T · dY_b`, then col2im. Accumulates into `grad_input`.
pub fn conv2d_backward_input(
    g: &Conv2dGeometry,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    conv2d_backward_input_with(ConvGemm::Auto, g, grad_output, weight, grad_input)
}

/// [`conv2d_backward_input`] with an explicit product engine (for tests and benches).
pub fn conv2d_backward_input_with(
    engine: ConvGemm,
    g: &Conv2dGeometry,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(weight.len(), g.weight_len());
    debug_assert_eq!(grad_input.len(), g.input_len());
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    let in_len = g.c_in * g.h * g.w;
    let engine = engine.resolve(g.c_out);
    // C (K, P) = W^T (K, c_out) · dY_b (c_out, P) [+ C when `accumulate`], W stored
    // (c_out, K). The column buffer is overwritten (sgemm with beta = 0 does not read it, so
    // it needs no zero fill; the direct product only accumulates and gets a zeroed buffer);
    // a 1x1 convolution accumulates straight into dx_b.
    let product = |dy_b: &[f32], c: &mut [f32], accumulate: bool| match engine {
        ConvGemm::Direct => {
            if !accumulate {
                c.fill(0.0);
            }
            acc_nn(k, g.c_out, p, weight, 1, k, dy_b, c)
        }
        _ => sgemm(
            &Gemm {
                trans_a: true,
                beta: if accumulate { 1.0 } else { 0.0 },
                ..Gemm::new(k, g.c_out, p)
            },
            weight,
            dy_b,
            c,
        ),
    };
    let pairs = grad_output
        .chunks_exact(g.c_out * p)
        .zip(grad_input.chunks_exact_mut(in_len));
    if g.is_pointwise() {
        for (dy_b, dx_b) in pairs {
            product(dy_b, dx_b, true);
        }
        return;
    }
    with_col_scratch(k * p, |dcol| {
        for (dy_b, dx_b) in pairs {
            product(dy_b, dcol, false);
            col2im_add(g, dcol, dx_b);
        }
    })
}

/// Fast weight gradient: `dW += dY_b · col^T`, summed over the batch. Accumulates into
/// `grad_weight`.
pub fn conv2d_backward_weight(
    g: &Conv2dGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    conv2d_backward_weight_with(ConvGemm::Auto, g, input, grad_output, grad_weight)
}

/// [`conv2d_backward_weight`] with an explicit product engine (for tests and benches).
pub fn conv2d_backward_weight_with(
    engine: ConvGemm,
    g: &Conv2dGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(grad_weight.len(), g.weight_len());
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    let in_len = g.c_in * g.h * g.w;
    // Auto: the reduction runs over all P output pixels, so the rule of `resolve` does not
    // apply; the AVX2 dot-product tiles beat sgemm when dW is narrow (K <= 16: 53-59 vs
    // ~18 GFLOP/s measured on the 1-channel 3x3 convs; at K = 144 they are level).
    let engine = match engine {
        ConvGemm::Auto if use_avx2_fma() && k <= DIRECT_MAX_REDUCTION => ConvGemm::Direct,
        ConvGemm::Auto => ConvGemm::Sgemm,
        other => other,
    };
    // dW (c_out, K) += dY_b (c_out, P) · col^T (P, K), col stored (K, P); beta = 1 sums.
    let product = |dy_b: &[f32], col: &[f32], dw: &mut [f32]| match engine {
        ConvGemm::Direct => acc_nt(g.c_out, p, k, dy_b, col, dw),
        _ => sgemm(
            &Gemm {
                beta: 1.0,
                trans_b: true,
                ..Gemm::new(g.c_out, p, k)
            },
            dy_b,
            col,
            dw,
        ),
    };
    let pairs = input
        .chunks_exact(in_len)
        .zip(grad_output.chunks_exact(g.c_out * p));
    if g.is_pointwise() {
        for (x_b, dy_b) in pairs {
            product(dy_b, x_b, grad_weight);
        }
        return;
    }
    with_col_scratch(k * p, |col| {
        for (x_b, dy_b) in pairs {
            im2col(g, x_b, col);
            product(dy_b, col, grad_weight);
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Direct small products for tiny convolutions.
//
// The ENN's convolutions are a few hundred thousand multiply-adds; a general sgemm's packing
// and planning cost is a visible share of that. These two accumulate-only products read
// their operands in place (no packing) and keep a 4-row × 16-column tile of C in registers:
//   acc_nn:  C (m×n) += op(A) (m×k) · B (k×n),   op(A)[i,p] = a[i*a_rs + p*a_cs]
//   acc_nt:  C (m×n) += A (m×k) · B^T,            B stored n×k (dot products of rows)
// The body is generic and `#[inline(always)]`; the AVX2+FMA entry point only recompiles it
// with those features enabled (and `mul_add`, which is one instruction there).
// Measured: acc_nn reaches 35-50 GFLOP/s at reduction lengths 9-16 (above the packed sgemm
// there). The compiler does not vectorize acc_nt's dot products well (3-4 GFLOP/s), so its
// AVX2 variant is written with intrinsics (45-60 GFLOP/s); the portable one stays slow.
// ---------------------------------------------------------------------------------------------

/// Which product engine the fast conv kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvGemm {
    /// Pick per product: [`ConvGemm::Direct`] when the product's reduction length is at most
    /// [`DIRECT_MAX_REDUCTION`], else sgemm.
    Auto,
    /// The crate's sgemm.
    Sgemm,
    /// The unpacked register-tiled products in this file.
    Direct,
}

/// Reduction lengths up to which [`ConvGemm::Auto`] uses the direct products. Measured with
/// the packed sgemm (interleaved min-of-30 timings, 2 shared cores): at reduction 9 (forward
/// of a 1-channel 3×3 conv) and 16 (input gradient with 16 filters) the direct product is
/// 1.0-2.5× faster; at 144 and 32 sgemm is 1.15-1.4× faster. The weight gradient reduces over
/// all output pixels; it goes direct when dW has at most this many columns and AVX2 is on.
pub const DIRECT_MAX_REDUCTION: usize = 16;

impl ConvGemm {
    /// The engine for one product whose reduction (inner) length is `k`.
    fn resolve(self, k: usize) -> ConvGemm {
        match self {
            ConvGemm::Auto if k <= DIRECT_MAX_REDUCTION => ConvGemm::Direct,
            ConvGemm::Auto => ConvGemm::Sgemm,
            other => other,
        }
    }
}

const TILE_M: usize = 4;
const TILE_N: usize = 16;

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// C (m×n) += op(A) · B; see the section comment.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn acc_nn_body<const FMA: bool>(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_rs: usize,
    a_cs: usize,
    b: &[f32],
    c: &mut [f32],
) {
    let n_full = n / TILE_N * TILE_N;
    let mut i0 = 0;
    while i0 < m {
        let rows = TILE_M.min(m - i0);
        if rows == TILE_M {
            for j0 in (0..n_full).step_by(TILE_N) {
                let mut acc = [[0.0f32; TILE_N]; TILE_M];
                for p in 0..k {
                    let b_tile: &[f32; TILE_N] =
                        b[p * n + j0..p * n + j0 + TILE_N].try_into().unwrap();
                    for (r, acc_row) in acc.iter_mut().enumerate() {
                        let av = a[(i0 + r) * a_rs + p * a_cs];
                        for (x, &bv) in acc_row.iter_mut().zip(b_tile) {
                            *x = madd::<FMA>(*x, av, bv);
                        }
                    }
                }
                for (r, acc_row) in acc.iter().enumerate() {
                    let c_tile = &mut c[(i0 + r) * n + j0..(i0 + r) * n + j0 + TILE_N];
                    for (x, &v) in c_tile.iter_mut().zip(acc_row) {
                        *x += v;
                    }
                }
            }
        }
        // Leftover rows (all columns) or leftover columns of full row tiles: axpy form.
        let j_start = if rows == TILE_M { n_full } else { 0 };
        if j_start < n {
            for r in 0..rows {
                let i = i0 + r;
                let c_row = &mut c[i * n + j_start..(i + 1) * n];
                for p in 0..k {
                    let av = a[i * a_rs + p * a_cs];
                    for (x, &bv) in c_row.iter_mut().zip(&b[p * n + j_start..(p + 1) * n]) {
                        *x = madd::<FMA>(*x, av, bv);
                    }
                }
            }
        }
        i0 += rows;
    }
}

/// C (m×n) += A (m×k) · B^T with B stored n×k: dot products of rows. Four rows of A share
/// each load of a B row (4 accumulators × 16 lanes), so the loop is not load-bound.
#[inline(always)]
fn acc_nt_body<const FMA: bool>(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    const LANES: usize = 16;
    let k_full = k / LANES * LANES;
    let mut i0 = 0;
    while i0 < m {
        let rows = TILE_M.min(m - i0);
        for j in 0..n {
            let b_row = &b[j * k..(j + 1) * k];
            if rows == TILE_M {
                let a_rows: [&[f32]; TILE_M] =
                    std::array::from_fn(|r| &a[(i0 + r) * k..(i0 + r + 1) * k]);
                let mut acc = [[0.0f32; LANES]; TILE_M];
                for q in (0..k_full).step_by(LANES) {
                    let b_ch: &[f32; LANES] = b_row[q..q + LANES].try_into().unwrap();
                    for (acc_r, a_row) in acc.iter_mut().zip(&a_rows) {
                        let a_ch: &[f32; LANES] = a_row[q..q + LANES].try_into().unwrap();
                        for ((x, &av), &bv) in acc_r.iter_mut().zip(a_ch).zip(b_ch) {
                            *x = madd::<FMA>(*x, av, bv);
                        }
                    }
                }
                for (r, (acc_r, a_row)) in acc.iter().zip(&a_rows).enumerate() {
                    let mut dot = acc_r.iter().sum::<f32>();
                    for (&av, &bv) in a_row[k_full..].iter().zip(&b_row[k_full..]) {
                        dot = madd::<FMA>(dot, av, bv);
                    }
                    c[(i0 + r) * n + j] += dot;
                }
            } else {
                for r in 0..rows {
                    let a_row = &a[(i0 + r) * k..(i0 + r + 1) * k];
                    // Sixteen independent partial sums hide the FMA latency.
                    let mut acc = [0.0f32; LANES];
                    for (a_ch, b_ch) in a_row[..k_full]
                        .chunks_exact(LANES)
                        .zip(b_row[..k_full].chunks_exact(LANES))
                    {
                        for ((x, &av), &bv) in acc.iter_mut().zip(a_ch).zip(b_ch) {
                            *x = madd::<FMA>(*x, av, bv);
                        }
                    }
                    let mut dot = acc.iter().sum::<f32>();
                    for (&av, &bv) in a_row[k_full..].iter().zip(&b_row[k_full..]) {
                        dot = madd::<FMA>(dot, av, bv);
                    }
                    c[(i0 + r) * n + j] += dot;
                }
            }
        }
        i0 += rows;
    }
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
#[allow(clippy::too_many_arguments)]
unsafe fn acc_nn_avx2_fma(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_rs: usize,
    a_cs: usize,
    b: &[f32],
    c: &mut [f32],
) {
    acc_nn_body::<true>(m, k, n, a, a_rs, a_cs, b, c)
}

/// One `R × C` tile of `acc_nt` with AVX2+FMA: `C[i0+r, j0+c] += dot(A row i0+r, B row j0+c)`,
/// eight lanes of the reduction per step, `R * C` accumulators in registers.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a` must point at `R` rows of `k` floats (row stride
/// `k`), `b` at `C` rows of `k` floats, `c` at an `R × C` block with row stride `n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn nt_tile_avx2_fma<const R: usize, const C: usize>(
    k: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    n: usize,
) {
    // SAFETY: see the function's safety contract and the per-access notes below.
    unsafe {
        use std::arch::x86_64::*;
        let k8 = k / 8 * 8;
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let mut q = 0;
        while q < k8 {
            let mut bv = [_mm256_setzero_ps(); C];
            for (col, v) in bv.iter_mut().enumerate() {
                // SAFETY: q + 8 <= k8 <= k, so the 8 floats lie inside B row `col` (< C rows).
                *v = _mm256_loadu_ps(b.add(col * k + q));
            }
            for (row, acc_row) in acc.iter_mut().enumerate() {
                // SAFETY: as above, inside A row `row` (< R rows).
                let av = _mm256_loadu_ps(a.add(row * k + q));
                for (x, &v) in acc_row.iter_mut().zip(&bv) {
                    *x = _mm256_fmadd_ps(av, v, *x);
                }
            }
            q += 8;
        }
        for (row, acc_row) in acc.iter().enumerate() {
            for (col, &v) in acc_row.iter().enumerate() {
                let mut lanes = [0.0f32; 8];
                _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                let mut dot = lanes.iter().sum::<f32>();
                for t in k8..k {
                    // SAFETY: t < k: inside A row `row` and B row `col`.
                    dot = (*a.add(row * k + t)).mul_add(*b.add(col * k + t), dot);
                }
                // SAFETY: row < R, col < C: inside the caller's R × C block of C.
                *c.add(row * n + col) += dot;
            }
        }
    }
}

/// `acc_nt` with AVX2+FMA: 4 × 2 tiles (6 loads per 8 FMAs), then 4 × 1 and 1 × 1 edges.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a.len() == m*k`, `b.len() == n*k`, `c.len() == m*n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn acc_nt_avx2_fma(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    unsafe {
        let (ap, bp, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        let mut i0 = 0;
        // SAFETY (all tile calls): i0 + R <= m and j0 + C <= n, so the tile's A rows, B rows and
        // C block lie inside the slices whose lengths were asserted above.
        while i0 + 4 <= m {
            let mut j0 = 0;
            while j0 + 2 <= n {
                nt_tile_avx2_fma::<4, 2>(k, ap.add(i0 * k), bp.add(j0 * k), cp.add(i0 * n + j0), n);
                j0 += 2;
            }
            if j0 < n {
                nt_tile_avx2_fma::<4, 1>(k, ap.add(i0 * k), bp.add(j0 * k), cp.add(i0 * n + j0), n);
            }
            i0 += 4;
        }
        for i in i0..m {
            for j in 0..n {
                nt_tile_avx2_fma::<1, 1>(k, ap.add(i * k), bp.add(j * k), cp.add(i * n + j), n);
            }
        }
    }
}

/// Whether the AVX2+FMA variants may run: the CPU has them and `GI_ISA` does not force the
/// portable path.
fn use_avx2_fma() -> bool {
    use super::isa::{self, Isa};
    isa::selected() != Isa::Portable && Isa::Avx2Fma.is_supported()
}

#[allow(clippy::too_many_arguments)]
fn acc_nn(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_rs: usize,
    a_cs: usize,
    b: &[f32],
    c: &mut [f32],
) {
    debug_assert!(m == 0 || k == 0 || (m - 1) * a_rs + (k - 1) * a_cs < a.len());
    debug_assert_eq!(b.len(), k * n);
    debug_assert_eq!(c.len(), m * n);
    #[cfg(target_arch = "x86_64")]
    if use_avx2_fma() {
        // SAFETY: the CPU supports avx2 and fma (checked at run time just above); the body
        // uses only bounds-checked slice indexing.
        return unsafe { acc_nn_avx2_fma(m, k, n, a, a_rs, a_cs, b, c) };
    }
    acc_nn_body::<false>(m, k, n, a, a_rs, a_cs, b, c)
}

fn acc_nt(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    debug_assert_eq!(a.len(), m * k);
    debug_assert_eq!(b.len(), n * k);
    debug_assert_eq!(c.len(), m * n);
    #[cfg(target_arch = "x86_64")]
    if use_avx2_fma() {
        // SAFETY: the CPU supports avx2 and fma (checked at run time just above); the body
        // uses only bounds-checked slice indexing.
        return unsafe { acc_nt_avx2_fma(m, k, n, a, b, c) };
    }
    acc_nt_body::<false>(m, k, n, a, b, c)
}
