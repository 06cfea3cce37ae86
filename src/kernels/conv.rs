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
//! without packing is faster, and [`ConvGemm::Im2col`] chooses per product by measurement.
//!
//! [`ConvGemm::Auto`] (the default) computes stride-1 forwards and input gradients with the
//! direct kernels of [`super::conv_direct`] instead (no column matrix, no col2im, no
//! packing) wherever they reproduce the im2col path's bits exactly
//! ([`direct_forward_rounding`], [`direct_backward_input_rounding`]) and measured faster
//! (`direct_pays`); on AVX2 the weight gradient too ([`direct_backward_weight_rounding`]).

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

use super::conv_direct::{self, Rounding};
use super::isa::{self, Isa};
use super::matmul::{packed_k_chunk, sgemm_with, small, Gemm};
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
    pub fn is_pointwise(&self) -> bool {
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

/// The batch loop shared by the three fast kernels: `step(b, col)` for every sample `b`, with
/// `col` a K×P scratch column matrix (contents unspecified), or `None` for a pointwise
/// convolution, whose column matrix is the sample itself.
fn for_each_sample(g: &Conv2dGeometry, mut step: impl FnMut(usize, Option<&mut [f32]>)) {
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
fn columns<'a>(g: &Conv2dGeometry, x_b: &'a [f32], col: Option<&'a mut [f32]>) -> &'a [f32] {
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
fn product(isa: Isa, engine: ConvGemm, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
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

/// Fast forward: the direct kernel where it reproduces the im2col path's bits, else im2col
/// and one product per sample (sgemm or the unpacked one, chosen by size), bias prefilled.
/// Overwrites `output`.
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
    conv2d_forward_on(isa::selected(), engine, g, input, weight, bias, output)
}

/// The rounding of the im2col forward ([`ConvGemm::Im2col`]) on `isa`, when the direct
/// kernel ([`conv_direct`]) can reproduce it: stride 1, not pointwise, and a product that
/// `small::acc_nn` computes (reduction ≤ [`DIRECT_MAX_REDUCTION`]), that packed sgemm reduces
/// in one K chunk, or that sgemm's unpacked path computes row by row.
pub fn direct_forward_rounding(isa: Isa, g: &Conv2dGeometry) -> Option<Rounding> {
    if !conv_direct::applies(g) || g.is_pointwise() {
        return None;
    }
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if k <= DIRECT_MAX_REDUCTION {
        return Some(Rounding::Tiles);
    }
    let gemm = Gemm {
        beta: 1.0,
        ..Gemm::new(g.c_out, k, p)
    };
    match packed_k_chunk(isa, &gemm) {
        Some(chunk) => (chunk == k).then_some(Rounding::Packed),
        None => (p > 1).then_some(Rounding::Unfused),
    }
}

/// The rounding of the im2col input gradient on `isa`, when the direct kernel can reproduce
/// it (as [`direct_forward_rounding`], for the product `Wᵀ · dY` of reduction `c_out`).
pub fn direct_backward_input_rounding(isa: Isa, g: &Conv2dGeometry) -> Option<Rounding> {
    if !conv_direct::applies(g) || g.is_pointwise() {
        return None;
    }
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if g.c_out <= DIRECT_MAX_REDUCTION {
        return Some(Rounding::Tiles);
    }
    let gemm = Gemm {
        trans_a: true,
        ..Gemm::new(k, g.c_out, p)
    };
    match packed_k_chunk(isa, &gemm) {
        Some(chunk) => (chunk == g.c_out).then_some(Rounding::Packed),
        None => (p > 1).then_some(Rounding::Unfused),
    }
}

/// Whether [`ConvGemm::Auto`] takes the direct kernels on `isa` for a product of `rounding`:
/// AVX-512 and AVX2 have register-tiled intrinsics bodies for the fused roundings; the
/// generic bodies (unfused roundings on AVX2, the portable path) are correct and bit-exact
/// but do not keep their accumulators in registers (measured 5-7x slower than im2col).
/// `Auto` also keeps im2col where it measured faster (CPU time, Zen 4 and Zen 2,
/// `GI_CONV_CPU_TABLE=1 cargo bench --bench kernels`): forwards with reductions of at most
/// [`DIRECT_MAX_REDUCTION`] (`small::acc_nn` reads the column matrix in place; the direct
/// tiles' partial-row stores then dominate) and input gradients with fewer than 8 input
/// channels (one tile would be mostly idle).
fn direct_pays(isa: Isa, rounding: Rounding) -> bool {
    match isa {
        Isa::Avx512 => true,
        Isa::Avx2Fma => rounding.fused(isa),
        _ => false,
    }
}

/// [`conv2d_forward_with`] on an explicit ISA (an unsupported one falls back to the best).
pub fn conv2d_forward_on(
    isa: Isa,
    engine: ConvGemm,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let isa = if isa.is_supported() { isa } else { isa::best() };
    if engine == ConvGemm::Auto && g.col_rows() > DIRECT_MAX_REDUCTION {
        if let Some(rounding) = direct_forward_rounding(isa, g).filter(|&r| direct_pays(isa, r)) {
            let run = conv_direct::conv2d_forward_direct_with;
            return run(isa, rounding, g, input, weight, bias, output);
        }
    }
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
    let engine = engine.resolve(k);
    // Y_b (c_out, P) = bias ⊗ 1 + W (c_out, K) · col (K, P).
    let gemm = Gemm {
        beta: 1.0,
        ..Gemm::new(g.c_out, k, p)
    };
    for_each_sample(g, |b, col| {
        let y_b = &mut output[b * g.c_out * p..(b + 1) * g.c_out * p];
        match bias {
            Some(bs) => {
                for (row, &v) in y_b.chunks_exact_mut(p).zip(bs) {
                    row.fill(v);
                }
            }
            None => y_b.fill(0.0),
        }
        let cols = columns(g, &input[b * in_len..(b + 1) * in_len], col);
        product(isa, engine, &gemm, weight, cols, y_b);
    })
}

/// Fast input gradient: the direct kernel where it reproduces the im2col path's bits, else
/// `dcol = W^T · dY_b` and col2im. Accumulates into `grad_input`.
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
    conv2d_backward_input_on(isa::selected(), engine, g, grad_output, weight, grad_input)
}

/// [`conv2d_backward_input_with`] on an explicit ISA (an unsupported one falls back).
pub fn conv2d_backward_input_on(
    isa: Isa,
    engine: ConvGemm,
    g: &Conv2dGeometry,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    let isa = if isa.is_supported() { isa } else { isa::best() };
    if engine == ConvGemm::Auto && g.c_in >= 8 {
        let rounding = direct_backward_input_rounding(isa, g).filter(|&r| direct_pays(isa, r));
        if let Some(rounding) = rounding {
            let run = conv_direct::conv2d_backward_input_direct_with;
            return run(isa, rounding, g, grad_output, weight, grad_input);
        }
    }
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(weight.len(), g.weight_len());
    debug_assert_eq!(grad_input.len(), g.input_len());
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    let in_len = g.c_in * g.h * g.w;
    let engine = engine.resolve(g.c_out);
    // dcol (K, P) = W^T (K, c_out) · dY_b (c_out, P), W stored (c_out, K); the column buffer
    // is overwritten (beta = 0), a 1x1 convolution accumulates straight into dx_b (beta = 1).
    let gemm = Gemm {
        trans_a: true,
        ..Gemm::new(k, g.c_out, p)
    };
    for_each_sample(g, |b, col| {
        let dy_b = &grad_output[b * g.c_out * p..(b + 1) * g.c_out * p];
        let dx_b = &mut grad_input[b * in_len..(b + 1) * in_len];
        match col {
            None => product(isa, engine, &Gemm { beta: 1.0, ..gemm }, weight, dy_b, dx_b),
            Some(dcol) => {
                product(isa, engine, &gemm, weight, dy_b, dcol);
                col2im_add(g, dcol, dx_b);
            }
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
    conv2d_backward_weight_on(isa::selected(), engine, g, input, grad_output, grad_weight)
}

/// The reduction chunk of the im2col weight gradient on `isa` when the direct kernel
/// ([`conv_direct::conv2d_backward_weight_direct_with`]) can reproduce it: stride 1, not
/// pointwise, and a product that im2col computes with packed sgemm (not with the `acc_nt`
/// tiles, which it uses for at most [`DIRECT_MAX_REDUCTION`] columns, nor unpacked).
pub fn direct_backward_weight_rounding(isa: Isa, g: &Conv2dGeometry) -> Option<usize> {
    let isa = if isa.is_supported() { isa } else { isa::best() };
    let k = g.col_rows();
    let acc_nt = small::acc_nt_is_fast(isa) && k <= DIRECT_MAX_REDUCTION;
    if acc_nt || !conv_direct::applies(g) || g.is_pointwise() {
        return None;
    }
    let gemm = Gemm {
        beta: 1.0,
        trans_b: true,
        ..Gemm::new(g.c_out, g.out_h() * g.out_w(), k)
    };
    packed_k_chunk(isa, &gemm)
}

/// The chunk with which [`ConvGemm::Auto`] takes the direct weight gradient: the one of
/// [`direct_backward_weight_rounding`], on AVX2 only (measured faster there, CPU time, Zen 2:
/// `GI_CONV_CPU_TABLE=1 cargo bench --bench kernels`, columns `dw` and `dw i2c`; not
/// measured on AVX-512, which keeps im2col).
fn direct_backward_weight_chunk(isa: Isa, g: &Conv2dGeometry) -> Option<usize> {
    direct_backward_weight_rounding(isa, g).filter(|_| isa == Isa::Avx2Fma)
}

/// [`conv2d_backward_weight_with`] on an explicit ISA (an unsupported one falls back).
/// [`ConvGemm::Auto`] takes the direct kernel on AVX2 where
/// [`direct_backward_weight_rounding`] gives a chunk (same bits), else it is
/// [`ConvGemm::Im2col`].
pub fn conv2d_backward_weight_on(
    isa: Isa,
    engine: ConvGemm,
    g: &Conv2dGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    let isa = if isa.is_supported() { isa } else { isa::best() };
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(grad_weight.len(), g.weight_len());
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    if engine == ConvGemm::Auto {
        if let Some(chunk) = direct_backward_weight_chunk(isa, g) {
            let run = conv_direct::conv2d_backward_weight_direct_with;
            return run(isa, chunk, g, input, grad_output, grad_weight);
        }
    }
    let in_len = g.c_in * g.h * g.w;
    // Im2col: the reduction runs over all P output pixels, so the rule of `resolve` does not
    // apply; the vectorized dot-product tiles beat sgemm when dW is narrow (K <= 16: 53-59 vs
    // ~18 GFLOP/s measured with AVX2 on the 1-channel 3x3 convs; at K = 144 they are level).
    let engine = match engine {
        ConvGemm::Auto | ConvGemm::Im2col
            if small::acc_nt_is_fast(isa) && k <= DIRECT_MAX_REDUCTION =>
        {
            ConvGemm::Direct
        }
        ConvGemm::Auto | ConvGemm::Im2col => ConvGemm::Sgemm,
        other => other,
    };
    // dW (c_out, K) += dY_b (c_out, P) · col^T (P, K), col stored (K, P); beta = 1 sums.
    let gemm = Gemm {
        beta: 1.0,
        trans_b: true,
        ..Gemm::new(g.c_out, p, k)
    };
    for_each_sample(g, |b, col| {
        let cols = columns(g, &input[b * in_len..(b + 1) * in_len], col);
        let dy_b = &grad_output[b * g.c_out * p..(b + 1) * g.c_out * p];
        product(isa, engine, &gemm, dy_b, cols, grad_weight);
    })
}

/// Which product engine the fast conv kernels use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConvGemm {
    /// The direct kernels of [`conv_direct`] (no im2col) where they give the same bits as
    /// [`ConvGemm::Im2col`] ([`direct_forward_rounding`], [`direct_backward_input_rounding`]),
    /// else [`ConvGemm::Im2col`].
    Auto,
    /// im2col, then per product: [`ConvGemm::Direct`] when the product's reduction length
    /// is at most [`DIRECT_MAX_REDUCTION`], else sgemm.
    Im2col,
    /// The crate's sgemm.
    Sgemm,
    /// The unpacked register-tiled products of [`small`] (read in place, no packing).
    Direct,
}

/// Reduction lengths up to which [`ConvGemm::Auto`] uses the direct products. Measured with
/// the packed sgemm (interleaved min-of-30 timings, 2 shared cores): at reduction 9 (forward
/// of a 1-channel 3×3 conv) and 16 (input gradient with 16 filters) the direct product is
/// 1.0-2.5× faster; at 144 and 32 sgemm is 1.15-1.4× faster. The weight gradient reduces over
/// all output pixels; it goes direct when dW has at most this many columns and the ISA has a
/// vectorized `acc_nt`.
pub const DIRECT_MAX_REDUCTION: usize = 16;

impl ConvGemm {
    /// The engine for one product whose reduction (inner) length is `k`.
    fn resolve(self, k: usize) -> ConvGemm {
        match self {
            ConvGemm::Auto | ConvGemm::Im2col if k <= DIRECT_MAX_REDUCTION => ConvGemm::Direct,
            ConvGemm::Auto | ConvGemm::Im2col => ConvGemm::Sgemm,
            other => other,
        }
    }
}
