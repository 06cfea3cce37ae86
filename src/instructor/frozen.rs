//! The frozen ENN's score and its gradient with respect to one input image, without a tape:
//! what [`EvaluationNet::score_and_w1_gradient`] computes on every universal step.
//!
//! On the tape ([`EvaluationNet::forward`], then [`Tape::backward`](crate::Tape::backward))
//! each of the 11 nodes allocates its value and, in the sweep, a zero-filled adjoint, and the
//! ReLUs, the pools' adjoints and the ReLUs' adjoints are passes of their own over the
//! feature maps. Here the same kernels run in the same order on buffers kept per thread, and
//! the pointwise steps are folded into their neighbours (m(v) = [v > 0], ḡ an adjoint):
//!
//! ```text
//! c1 = conv1(x)                      ḡx  = 0 + conv1ᵀ(ḡc1)
//! p1 = maxpool2(relu(c1)), argmax    ḡc1 = (0 + ḡp1[o]) · m(p1[o]) at window o's argmax,
//!                                          +0 elsewhere
//! c2 = conv2(p1)                     ḡp1 = 0 + conv2ᵀ(ḡc2)
//!                                    (ḡc1 over c1, ḡc2 over c2: they are not read again)
//! q  = plane means of relu(c2)       ḡc2 = (ḡq[plane] / hw) · m(c2), in place over c2
//! dense layers, sigmoid              ḡq: the tape's chain of 1 × 32 products and scalars
//! ```
//!
//! The pools apply the ReLU to each element they read
//! ([`pool::max_pool2d_relu_forward`], [`pool::global_avg_pool_relu_forward`]), so the
//! ReLUs' outputs are never written. Every value is the expression the tape's rule
//! computes (but for the sign of a zero that reaches nothing, below), so the score and the
//! gradient are the tape's bit for bit (tested against it in `tests/enn_image.rs`, every
//! image mode and branch):
//! * the pools' ReLU gives +0 for −0 where the tape's `max(c, 0)` may give −0 (`f32::max`
//!   leaves it open); a zero's sign reaches nothing: the max pool finds the zeros equal
//!   (the first wins either way), conv2 and the global pool add the values onto +0 or the
//!   bias, and the masks test `> 0`;
//! * the tape's ReLU adjoint masks by `c > 0` of its input c, as here for conv2; for conv1
//!   the mask is needed only at a window's argmax, where `max(c1, 0)` is the window's
//!   maximum p1[o], and `max(c, 0) > 0` is the same test as `c > 0` for every c (a NaN or a
//!   zero maps to 0);
//! * the tape's pool adjoint is +0 except `0 + ḡp1[o]` at the argmax of window o (2 × 2
//!   windows with stride 2 are disjoint, so each entry gets at most one term), and the ReLU's
//!   adjoint is that times the mask: `+0 · m = +0` elsewhere;
//! * an adjoint the tape builds with `accumulate_fresh` is its first term as it is when it
//!   has at least [`FRESH_MIN_LEN`] elements, else that term added onto +0 ([`first_term`]);
//!   those built with `accumulate` are always added onto +0.
//!
//! Shapes the tape would reject, or layers other than [`EvaluationNet::new`]'s kind, give
//! `None` ([`Plan::of`]); the caller then takes the tape, which reports the error.

use super::enn::EvaluationNet;
use crate::autodiff::tape::FRESH_MIN_LEN;
use crate::kernels::conv::{self, Conv2dGeometry};
use crate::kernels::matmul::{sgemm, Gemm};
use crate::kernels::pool::{self, Pool2dGeometry};
use crate::nn::{Conv2d, Linear};
use crate::tensor::sigmoid_f32;
use std::cell::RefCell;

/// The layer sizes for one (1, 1, h, w) image.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Plan {
    conv1: Conv2dGeometry,
    pool: Pool2dGeometry,
    conv2: Conv2dGeometry,
}

impl Plan {
    /// The sizes of `enn` on an (h, w) image, or `None` where the tape would return a shape
    /// error or a layer is not shaped as [`EvaluationNet::new`] makes it (a dense layer
    /// `(out, in)` with bias `[out]`, one output).
    pub(crate) fn of(enn: &EvaluationNet, h: usize, w: usize) -> Option<Plan> {
        if h < 2 || w < 2 {
            return None;
        }
        let conv1 = conv_geometry(&enn.conv1, 1, h, w)?;
        let pool = Pool2dGeometry {
            planes: conv1.c_out,
            h: conv1.out_h(),
            w: conv1.out_w(),
            k: 2,
            stride: 2,
        };
        if pool.out_h() == 0 || pool.out_w() == 0 {
            return None;
        }
        let conv2 = conv_geometry(&enn.conv2, conv1.c_out, pool.out_h(), pool.out_w())?;
        let fits = |l: &Linear, inputs: usize| {
            l.weight.dims() == [l.outputs(), inputs] && l.bias.dims() == [l.outputs()]
        };
        let dense = fits(&enn.fc1, conv2.c_out) && fits(&enn.fc2, enn.fc1.outputs());
        (dense && enn.fc2.outputs() == 1).then_some(Plan { conv1, pool, conv2 })
    }
}

/// The geometry of `layer` on a (1, c_in, h, w) input, checked as `Tape::conv2d` checks it.
fn conv_geometry(layer: &Conv2d, c_in: usize, h: usize, w: usize) -> Option<Conv2dGeometry> {
    let wd = layer.weight.dims();
    if wd.len() != 4 || wd[1] != c_in || layer.stride == 0 || layer.bias.dims() != [wd[0]] {
        return None;
    }
    let g = Conv2dGeometry {
        n: 1,
        c_in,
        h,
        w,
        c_out: wd[0],
        kh: wd[2],
        kw: wd[3],
        stride: layer.stride,
        pad: layer.pad,
    };
    (g.out_h() > 0 && g.out_w() > 0).then_some(g)
}

/// The feature maps and their adjoints, reused across calls on a thread (their contents
/// are always written before they are read).
#[derive(Default)]
struct Buffers {
    /// conv1's output (its ReLU is applied by the pool as it reads it), then its adjoint.
    c1: Vec<f32>,
    /// The pool's output and the flat in-plane index of each window's maximum.
    p1: Vec<f32>,
    argmax: Vec<u32>,
    /// conv2's output (its ReLU applied by the global pool), then its adjoint.
    c2: Vec<f32>,
    /// The adjoint of the pool's output.
    dp1: Vec<f32>,
}

thread_local! {
    static BUFFERS: RefCell<Buffers> = RefCell::new(Buffers::default());
}

/// The tape's first term of an adjoint of `len` elements built by `accumulate_fresh`.
#[inline(always)]
fn first_term(v: f32, len: usize) -> f32 {
    if len >= FRESH_MIN_LEN {
        v
    } else {
        0.0 + v
    }
}

/// The ReLU's local derivative at input `c` (or at its output, see the module docs):
/// `[c > 0]`.
#[inline(always)]
fn relu_mask(c: f32) -> f32 {
    (c > 0.0) as u8 as f32
}

/// `x Wᵀ + b` for one row `x`, as `Tensor::matmul_t` and the broadcast add compute it.
fn dense_forward(l: &Linear, x: &[f32]) -> Vec<f32> {
    let mut y = vec![0.0f32; l.outputs()];
    let g = Gemm {
        trans_b: true,
        ..Gemm::new(1, l.inputs(), l.outputs())
    };
    sgemm(&g, x, l.weight.data(), &mut y);
    y.iter_mut().zip(l.bias.data()).for_each(|(v, &b)| *v += b);
    y
}

/// `x̄ = 0 + (0 + ȳ) W` for one row: the broadcast add's adjoint onto zeros, then the
/// matmul rule's accumulating product onto zeros.
fn dense_backward(l: &Linear, dy: &[f32]) -> Vec<f32> {
    let d_xw: Vec<f32> = dy.iter().map(|&g| 0.0 + g).collect();
    let mut dx = vec![0.0f32; l.inputs()];
    let g = Gemm {
        beta: 1.0,
        ..Gemm::new(1, l.outputs(), l.inputs())
    };
    sgemm(&g, &d_xw, l.weight.data(), &mut dx);
    dx
}

/// The score of `image` (h × w, one channel) and `∂score/∂image` added into `grad`
/// (h × w, zero-filled by the caller, as the tape's adjoint of its input is).
pub(crate) fn score_and_image_gradient(
    enn: &EvaluationNet,
    plan: &Plan,
    image: &[f32],
    grad: &mut [f32],
) -> f32 {
    BUFFERS.with(|b| {
        let b = &mut *b.borrow_mut();
        let (score, d_pooled) = forward_and_head(enn, plan, image, b);
        backward(enn, plan, &d_pooled, b, grad);
        score
    })
}

/// The forward pass, and the adjoint of the global pool's output (`ḡq`).
fn forward_and_head(
    enn: &EvaluationNet,
    p: &Plan,
    image: &[f32],
    b: &mut Buffers,
) -> (f32, Vec<f32>) {
    let (c1, c2) = (&enn.conv1, &enn.conv2);
    b.c1.resize(p.conv1.output_len(), 0.0);
    conv::conv2d_forward(
        &p.conv1,
        image,
        c1.weight.data(),
        Some(c1.bias.data()),
        &mut b.c1,
    );
    b.p1.resize(p.pool.output_len(), 0.0);
    b.argmax.resize(p.pool.output_len(), 0);
    pool::max_pool2d_relu_forward(&p.pool, &b.c1, &mut b.p1, &mut b.argmax);
    b.c2.resize(p.conv2.output_len(), 0.0);
    let (w2, b2) = (c2.weight.data(), Some(c2.bias.data()));
    conv::conv2d_forward(&p.conv2, &b.p1, w2, b2, &mut b.c2);
    let planes = p.conv2.c_out;
    let mut pooled = vec![0.0f32; planes];
    pool::global_avg_pool_relu_forward(planes, b.c2.len() / planes, &b.c2, &mut pooled);
    let z1 = dense_forward(&enn.fc1, &pooled);
    let h1: Vec<f32> = z1.iter().map(|x| x.max(0.0)).collect();
    let logit = dense_forward(&enn.fc2, &h1)[0];
    let score = sigmoid_f32(logit);
    // The root's adjoint 1, through the sigmoid (σ' = σ(1 − σ)) onto the logit's zero.
    let d_logit = first_term(1.0 * (score * (1.0 - score)), 1);
    let d_h1 = dense_backward(&enn.fc2, &[d_logit]);
    let d_z1: Vec<f32> = d_h1
        .iter()
        .zip(&z1)
        .map(|(&g, &z)| first_term(g * relu_mask(z), z1.len()))
        .collect();
    (score, dense_backward(&enn.fc1, &d_z1))
}

/// From `ḡq` down to the image: the adjoints of conv2's output (in place over `c2`), of the
/// pool's output, of conv1's output (over `c1`), then conv1's input gradient into `grad`.
fn backward(enn: &EvaluationNet, p: &Plan, d_pooled: &[f32], b: &mut Buffers, grad: &mut [f32]) {
    let len2 = b.c2.len();
    let hw = len2 / d_pooled.len();
    for (plane, &d) in b.c2.chunks_exact_mut(hw).zip(d_pooled) {
        let g = first_term(d / hw as f32, len2);
        plane
            .iter_mut()
            .for_each(|a| *a = first_term(g * relu_mask(*a), len2));
    }
    b.dp1.clear();
    b.dp1.resize(p.pool.output_len(), 0.0);
    conv::conv2d_backward_input(&p.conv2, &b.c2, enn.conv2.weight.data(), &mut b.dp1);
    // ḡc1 at window o's argmax, in place over ḡp1: window o's maximum p1[o] is max(c1, 0)
    // there, so it gives the mask. Then ḡc1 over c1: +0, and those values at the argmaxes.
    let len1 = b.c1.len();
    for (g, &m) in b.dp1.iter_mut().zip(&b.p1) {
        *g = first_term((0.0 + *g) * relu_mask(m), len1);
    }
    b.c1.fill(0.0);
    let (in_plane, out_plane) = (p.pool.h * p.pool.w, p.pool.out_h() * p.pool.out_w());
    let windows = b
        .dp1
        .chunks_exact(out_plane)
        .zip(b.argmax.chunks_exact(out_plane));
    for (dc1, (values, argmax)) in b.c1.chunks_exact_mut(in_plane).zip(windows) {
        for (&v, &at) in values.iter().zip(argmax) {
            dc1[at as usize] = v;
        }
    }
    conv::conv2d_backward_input(&p.conv1, &b.c1, enn.conv1.weight.data(), grad);
}
