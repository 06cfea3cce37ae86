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
//!
//! ## Files
//!
//! * this file: [`Conv2dGeometry`], [`ConvGemm`], the bias gradient and the fast entry
//!   points: the direct kernel where `routing` takes it, else im2col and one product per
//!   sample;
//! * `routing`: which rounding each direct kernel must reproduce to give the im2col path's
//!   bits on an ISA ([`direct_forward_rounding`] and its two siblings), and where it pays;
//! * `im2col`: [`im2col`], [`col2im_add`], the per-sample column buffer and product;
//! * `reference`: the by-definition references (f64 sums), the tests' oracle.

mod im2col;
mod reference;
mod routing;

pub use im2col::{col2im_add, im2col};
pub use reference::{
    conv2d_backward_input_reference, conv2d_backward_weight_reference, conv2d_forward_reference,
};
pub use routing::{
    direct_backward_input_rounding, direct_backward_weight_rounding, direct_forward_rounding,
};

use super::conv_direct;
use super::isa::{self, Isa};
use super::matmul::{small, Gemm};
use im2col::{columns, for_each_sample, product};
use routing::{direct_backward_weight_chunk, direct_pays};

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

/// [`conv2d_backward_weight_with`] on an explicit ISA (an unsupported one falls back).
/// [`ConvGemm::Auto`] takes the direct kernel where [`direct_backward_weight_rounding`] gives
/// a chunk (same bits) and it measured faster (AVX2; AVX-512 for batches of more than one
/// sample, see `routing.rs`), else it is [`ConvGemm::Im2col`].
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
