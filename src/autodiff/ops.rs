//! Every differentiable operation: its forward (a method on [`Tape`]) and its backward rule
//! (an arm of the private `Op::backward`, below in this file). Each backward arm states the
//! derivative it applies next to the code.
//!
//! Notation: `g` (ḡ) is the adjoint of the op's output (`∂root/∂y`), shaped like `y`; each
//! rule *adds* its term into the inputs' adjoints (see [`super::tape`] for why `+=`).
//!
//! ## The backward rules
//!
//! | forward | adjoint contributions |
//! |---|---|
//! | `Y = A B` (A m×k, B k×n) | `Ā += Ȳ Bᵀ`, `B̄ += Aᵀ Ȳ` (transposes are kernel flags, never copies) |
//! | `a + b`, `a − b` | `ā += ḡ`, `b̄ += ±ḡ` |
//! | `a ⊙ b` | `ā += ḡ ⊙ b`, `b̄ += ḡ ⊙ a` |
//! | `a / b` | `ā += ḡ / b`, `b̄ −= ḡ ⊙ a / b²` |
//! | `b` a row broadcast over rows | `b̄` gets the column sums of the term above |
//! | `a + s`, `s · a` | `ā += ḡ`, `ā += s ḡ` |
//! | `relu(x)` | `x̄ += ḡ ⊙ [x > 0]` (0 at the kink, as PyTorch) |
//! | `σ(x)`, `tanh(x)` | `x̄ += ḡ ⊙ y(1 − y)`, `x̄ += ḡ ⊙ (1 − y²)` (from the saved output y) |
//! | `eˣ`, `ln x`, `abs x` | `x̄ += ḡ ⊙ y`, `x̄ += ḡ / x`, `x̄ += ḡ ⊙ sign x` |
//! | `Σ x`, `mean x` | `x̄ += ḡ` (resp. `ḡ / N`) in every element |
//! | sum / mean along an axis | ḡ broadcast back along that axis (÷ its length for the mean) |
//! | `mean (a − t)²` | `ā += 2ḡ(a − t)/N`, `t̄ −= 2ḡ(a − t)/N` |
//! | reshape | `x̄ += ḡ` (same flat order) |
//! | conv2d | `x̄ += ` the transposed convolution of ḡ by W, `W̄ += ` ḡ correlated with x, `b̄ += Σ ḡ` |
//! | max pool | ḡ goes to the window's argmax (saved in the forward pass) |
//! | average pool, global average pool | ḡ / (window size) to every element of the window |
//! | resize (linear map R) | `x̄ += Rᵀ ḡ`, the kernel's adjoint |
//!
//! Matmul, from `Y_ij = Σ_p A_ip B_pj`: `∂root/∂A_ip = Σ_j Ȳ_ij B_pj = (Ȳ Bᵀ)_ip`, and
//! likewise for B.
//!
//! ## Softmax cross-entropy, fused
//!
//! For logits z (B × C) and labels y, `p_b = softmax(z_b)` and `L = (1/B) Σ_b −log p_b[y_b]`.
//! Since `−log p_b[y] = −z_y + log Σ_c e^{z_c}`, its derivative in `z_c` is
//! `−[c = y] + e^{z_c} / Σ e = p_c − onehot(y)_c`, so
//!
//! ```text
//! ∂L/∂z_b = (p_b − onehot(y_b)) / B
//! ```
//!
//! The forward pass uses the log-sum-exp trick: with `m = max_c z_c`,
//! `log Σ_c e^{z_c} = m + log Σ_c e^{z_c − m}`. Every exponent is ≤ 0 (no overflow) and one
//! term is exactly 1 (the sum is ≥ 1, its log is finite), so the loss is finite for any finite
//! logits, where `log(softmax(z))` computed naively would give `log 0 = −∞`. Fusing also means
//! the backward rule reads the saved `p` instead of differentiating through exp, sum and log.
//!
//! ```
//! use grad_instructor::{Tape, Tensor};
//! # fn main() -> grad_instructor::Result<()> {
//! let mut tape = Tape::new();
//! let z = tape.leaf(Tensor::from_vec(vec![0.0, 0.0, 1000.0, 0.0], &[2, 2])?, true);
//! let loss = tape.softmax_cross_entropy(z, &[0, 0])?;
//! // Row 0: p = (½, ½), −log ½ = ln 2. Row 1: label 0 has p ≈ 1, −log p ≈ 0 (no overflow).
//! assert!((tape.item(loss)? - std::f32::consts::LN_2 / 2.0).abs() < 1e-6);
//! let g = tape.backward(loss)?;
//! // (p − onehot)/B with B = 2: row 0 (½ − 1, ½)/2, row 1 ≈ (0, 0).
//! assert_eq!(g.get(z).unwrap().data(), &[-0.25, 0.25, 0.0, 0.0]);
//! # Ok(()) }
//! ```
//!
//! Each rule is checked against central finite differences in `tests/autodiff_gradcheck.rs`
//! (with [`super::gradcheck`]).

use super::tape::{Tape, Var};
use crate::error::{Error, Result};
use crate::kernels::conv::{self, Conv2dGeometry};
use crate::kernels::matmul::{sgemm, Gemm};
use crate::kernels::pool::{self, Pool2dGeometry};
use crate::kernels::resize::{self, ResizeGeometry, ResizeMode};
use crate::tensor::Tensor;

/// Elementwise binary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
}

/// Elementwise unary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryKind {
    /// `max(x, 0)`
    Relu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `|x|`
    Abs,
}

/// How a resize node was specified.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ResizeTo {
    /// Output side `floor(in * s)` on both axes.
    Scale(f64),
    /// Explicit output height and width.
    Size(usize, usize),
}

/// A recorded operation: its inputs and what its backward rule needs.
pub(crate) enum Op {
    Leaf,
    Matmul {
        a: Var,
        b: Var,
        trans_a: bool,
        trans_b: bool,
    },
    /// `b` is either shaped like `a`, or a row vector broadcast over `a`'s last axis.
    Binary {
        kind: BinaryKind,
        a: Var,
        b: Var,
        b_is_row: bool,
    },
    AddScalar {
        a: Var,
    },
    MulScalar {
        a: Var,
        s: f32,
    },
    Unary {
        kind: UnaryKind,
        a: Var,
    },
    SumAll {
        a: Var,
    },
    MeanAll {
        a: Var,
    },
    SumAxis {
        a: Var,
        axis: usize,
    },
    MeanAxis {
        a: Var,
        axis: usize,
    },
    /// Mean over the batch of `-log softmax(logits)[label]`; keeps the softmax.
    SoftmaxCrossEntropy {
        logits: Var,
        labels: Vec<u32>,
        probs: Vec<f32>,
    },
    Mse {
        a: Var,
        target: Var,
    },
    Reshape {
        a: Var,
    },
    Conv2d {
        x: Var,
        w: Var,
        b: Option<Var>,
        geom: Conv2dGeometry,
    },
    MaxPool2d {
        x: Var,
        geom: Pool2dGeometry,
        argmax: Vec<u32>,
    },
    AvgPool2d {
        x: Var,
        geom: Pool2dGeometry,
    },
    GlobalAvgPool {
        x: Var,
        planes: usize,
        hw: usize,
    },
    Resize {
        x: Var,
        geom: ResizeGeometry,
        mode: ResizeMode,
    },
}

impl Op {
    /// The op's inputs, in order.
    pub(crate) fn inputs(&self) -> Vec<Var> {
        match *self {
            Op::Leaf => vec![],
            Op::Matmul { a, b, .. } | Op::Binary { a, b, .. } => vec![a, b],
            Op::Mse { a, target } => vec![a, target],
            Op::AddScalar { a }
            | Op::MulScalar { a, .. }
            | Op::Unary { a, .. }
            | Op::SumAll { a }
            | Op::MeanAll { a }
            | Op::SumAxis { a, .. }
            | Op::MeanAxis { a, .. }
            | Op::Reshape { a } => vec![a],
            Op::SoftmaxCrossEntropy { logits, .. } => vec![logits],
            Op::Conv2d { x, w, b, .. } => [Some(x), Some(w), b].into_iter().flatten().collect(),
            Op::MaxPool2d { x, .. } | Op::AvgPool2d { x, .. } | Op::GlobalAvgPool { x, .. } => {
                vec![x]
            }
            Op::Resize { x, .. } => vec![x],
        }
    }

    /// Short name for printing the tape.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Leaf => "leaf",
            Op::Matmul { .. } => "matmul",
            Op::Binary {
                kind: BinaryKind::Add,
                ..
            } => "add",
            Op::Binary {
                kind: BinaryKind::Sub,
                ..
            } => "sub",
            Op::Binary {
                kind: BinaryKind::Mul,
                ..
            } => "mul",
            Op::Binary {
                kind: BinaryKind::Div,
                ..
            } => "div",
            Op::AddScalar { .. } => "add_scalar",
            Op::MulScalar { .. } => "mul_scalar",
            Op::Unary { kind, .. } => match kind {
                UnaryKind::Relu => "relu",
                UnaryKind::Sigmoid => "sigmoid",
                UnaryKind::Tanh => "tanh",
                UnaryKind::Exp => "exp",
                UnaryKind::Log => "log",
                UnaryKind::Abs => "abs",
            },
            Op::SumAll { .. } => "sum",
            Op::MeanAll { .. } => "mean",
            Op::SumAxis { .. } => "sum_axis",
            Op::MeanAxis { .. } => "mean_axis",
            Op::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy",
            Op::Mse { .. } => "mse",
            Op::Reshape { .. } => "reshape",
            Op::Conv2d { .. } => "conv2d",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::GlobalAvgPool { .. } => "global_avg_pool",
            Op::Resize { .. } => "resize",
        }
    }

    /// Applies this op's vector-Jacobian product: given `g = ∂root/∂y` (y = `out`), adds
    /// `∂root/∂input` into each input's adjoint.
    pub(crate) fn backward(
        &self,
        tape: &Tape<'_>,
        out: &Tensor,
        g: &Tensor,
        grads: &mut [Option<Tensor>],
    ) -> Result<()> {
        let gd = g.data();
        let val = |v: Var| tape.value(v);
        match *self {
            Op::Leaf => {}
            Op::Matmul {
                a,
                b,
                trans_a,
                trans_b,
            } => {
                // y = op(A) op(B);  ∂A: ḡ op(B)ᵀ;  ∂B: op(A)ᵀ ḡ.  When an operand was stored
                // transposed, its adjoint is the transpose of that, which we get by swapping
                // the product's operands and flags instead of copying anything.
                let (av, bv) = (val(a), val(b));
                let (m, n) = (g.dims()[0], g.dims()[1]);
                let k = if trans_a { av.dims()[0] } else { av.dims()[1] };
                tape.accumulate(grads, a, |da| {
                    let (gm, lhs, rhs, ta, tb) = if !trans_a {
                        // dA (m×k) = ḡ (m×n) · op(B)ᵀ
                        (Gemm::new(m, n, k), gd, bv.data(), false, !trans_b)
                    } else {
                        // A stored k×m: dA = op(B) (k×n) · ḡᵀ (n×m)
                        (Gemm::new(k, n, m), bv.data(), gd, trans_b, true)
                    };
                    sgemm(
                        &Gemm {
                            beta: 1.0,
                            trans_a: ta,
                            trans_b: tb,
                            ..gm
                        },
                        lhs,
                        rhs,
                        da,
                    );
                });
                tape.accumulate(grads, b, |db| {
                    let (gm, lhs, rhs, ta, tb) = if !trans_b {
                        // dB (k×n) = op(A)ᵀ (k×m) · ḡ (m×n)
                        (Gemm::new(k, m, n), av.data(), gd, !trans_a, false)
                    } else {
                        // B stored n×k: dB = ḡᵀ (n×m) · op(A) (m×k)
                        (Gemm::new(n, m, k), gd, av.data(), true, trans_a)
                    };
                    sgemm(
                        &Gemm {
                            beta: 1.0,
                            trans_a: ta,
                            trans_b: tb,
                            ..gm
                        },
                        lhs,
                        rhs,
                        db,
                    );
                });
            }
            Op::Binary {
                kind,
                a,
                b,
                b_is_row,
            } => {
                let (ad, bd) = (val(a).data(), val(b).data());
                let nb = bd.len();
                // b index for flat position i: itself, or its column when b is a broadcast row.
                let bi = |i: usize| if b_is_row { i % nb } else { i };
                // ∂(a+b) = (1, 1); ∂(a−b) = (1, −1); ∂(ab) = (b, a); ∂(a/b) = (1/b, −a/b²).
                tape.accumulate(grads, a, |da| {
                    for (i, d) in da.iter_mut().enumerate() {
                        *d += match kind {
                            BinaryKind::Add | BinaryKind::Sub => gd[i],
                            BinaryKind::Mul => gd[i] * bd[bi(i)],
                            BinaryKind::Div => gd[i] / bd[bi(i)],
                        };
                    }
                });
                // A broadcast row receives the sum over the rows it was added to.
                tape.accumulate(grads, b, |db| {
                    for i in 0..gd.len() {
                        db[bi(i)] += match kind {
                            BinaryKind::Add => gd[i],
                            BinaryKind::Sub => -gd[i],
                            BinaryKind::Mul => gd[i] * ad[i],
                            BinaryKind::Div => -gd[i] * ad[i] / (bd[bi(i)] * bd[bi(i)]),
                        };
                    }
                });
            }
            Op::AddScalar { a } => {
                tape.accumulate_fresh(grads, a, || gd.to_vec(), |da| add_into(da, gd))?
            }
            Op::MulScalar { a, s } => tape.accumulate_fresh(
                grads,
                a,
                || gd.iter().map(|&gi| s * gi).collect(),
                |da| da.iter_mut().zip(gd).for_each(|(d, &gi)| *d += s * gi),
            )?,
            Op::Unary { kind, a } => {
                let (x, y) = (val(a).data(), out.data());
                // One monomorphized loop per kind (the match hoisted out) so each vectorizes.
                macro_rules! rule {
                    ($local:expr) => {
                        chain_rule(tape, grads, a, gd, x, y, $local)?
                    };
                }
                match kind {
                    UnaryKind::Relu => rule!(|x, _| (x > 0.0) as u8 as f32), // 0 at the kink, as PyTorch
                    UnaryKind::Sigmoid => rule!(|_, y| y * (1.0 - y)),       // σ' = σ(1 − σ)
                    UnaryKind::Tanh => rule!(|_, y| 1.0 - y * y),            // tanh' = 1 − tanh²
                    UnaryKind::Exp => rule!(|_, y| y),                       // (eˣ)' = eˣ
                    UnaryKind::Log => rule!(|x, _| 1.0 / x),                 // (ln x)' = 1/x
                    UnaryKind::Abs => rule!(|x, _| sign(x)), // |x|' = sign x (0 at 0)
                }
            }
            Op::SumAll { a } => tape.accumulate_fresh(
                grads,
                a,
                || vec![gd[0]; val(a).numel()],
                |da| da.iter_mut().for_each(|d| *d += gd[0]),
            )?,
            Op::MeanAll { a } => {
                let scale = gd[0] / val(a).numel() as f32;
                tape.accumulate_fresh(
                    grads,
                    a,
                    || vec![scale; val(a).numel()],
                    |da| da.iter_mut().for_each(|d| *d += scale),
                )?;
            }
            Op::SumAxis { a, axis } | Op::MeanAxis { a, axis } => {
                // y[o, r] = Σ_i x[o, i, r]  ⇒  ∂x[o, i, r] = ḡ[o, r] (÷ len for the mean).
                let (outer, len, inner) = val(a).shape().split_at_axis(axis);
                let scale = if matches!(self, Op::MeanAxis { .. }) {
                    1.0 / len as f32
                } else {
                    1.0
                };
                tape.accumulate(grads, a, |da| {
                    for o in 0..outer {
                        for i in 0..len {
                            let dst = &mut da[(o * len + i) * inner..(o * len + i + 1) * inner];
                            let src = &gd[o * inner..(o + 1) * inner];
                            dst.iter_mut().zip(src).for_each(|(d, &s)| *d += scale * s);
                        }
                    }
                });
            }
            Op::SoftmaxCrossEntropy {
                logits,
                ref labels,
                ref probs,
            } => {
                // L = (1/B) Σ_b −log p_b[y_b]  ⇒  ∂L/∂z_b = (p_b − onehot(y_b)) / B.
                let batch = labels.len();
                let classes = probs.len() / batch;
                let scale = gd[0] / batch as f32;
                tape.accumulate(grads, logits, |dz| {
                    for (bi, &label) in labels.iter().enumerate() {
                        let row = bi * classes;
                        for c in 0..classes {
                            let onehot = (c == label as usize) as u8 as f32;
                            dz[row + c] += scale * (probs[row + c] - onehot);
                        }
                    }
                });
            }
            Op::Mse { a, target } => {
                // L = (1/N) Σ (a − t)²  ⇒  ∂a = 2(a − t)/N, ∂t = −2(a − t)/N.
                let (ad, td) = (val(a).data(), val(target).data());
                let scale = 2.0 * gd[0] / ad.len() as f32;
                tape.accumulate(grads, a, |da| {
                    da.iter_mut()
                        .enumerate()
                        .for_each(|(i, d)| *d += scale * (ad[i] - td[i]))
                });
                tape.accumulate(grads, target, |dt| {
                    dt.iter_mut()
                        .enumerate()
                        .for_each(|(i, d)| *d -= scale * (ad[i] - td[i]))
                });
            }
            Op::Reshape { a } => {
                tape.accumulate_fresh(grads, a, || gd.to_vec(), |da| add_into(da, gd))?
            }
            Op::Conv2d { x, w, b, geom } => {
                // The two backward products of a convolution (see kernels::conv); the bias
                // adjoint is ḡ summed over batch and positions.
                let (xv, wv) = (val(x), val(w));
                tape.accumulate(grads, x, |dx| {
                    conv::conv2d_backward_input(&geom, gd, wv.data(), dx)
                });
                tape.accumulate(grads, w, |dw| {
                    conv::conv2d_backward_weight(&geom, xv.data(), gd, dw)
                });
                if let Some(b) = b {
                    tape.accumulate(grads, b, |db| conv::conv2d_backward_bias(&geom, gd, db));
                }
            }
            Op::MaxPool2d {
                x,
                geom,
                ref argmax,
            } => {
                // The max is locally the selected element: its adjoint gets ḡ, the rest 0.
                tape.accumulate(grads, x, |dx| {
                    pool::max_pool2d_backward(&geom, gd, argmax, dx)
                });
            }
            Op::AvgPool2d { x, geom } => {
                tape.accumulate(grads, x, |dx| pool::avg_pool2d_backward(&geom, gd, dx));
            }
            Op::GlobalAvgPool { x, planes, hw } => {
                // Every element of plane p gets ḡ[p] / hw (the same quotient the kernel adds).
                let fresh = || {
                    let mut dx = Vec::with_capacity(planes * hw);
                    for &d in gd {
                        // `extend` from a `repeat_n` is one fill (a flat_map collect is not).
                        dx.extend(std::iter::repeat_n(d / hw as f32, hw));
                    }
                    dx
                };
                tape.accumulate_fresh(grads, x, fresh, |dx| {
                    pool::global_avg_pool_backward(planes, hw, gd, dx)
                })?;
            }
            Op::Resize { x, geom, mode } => {
                // A resize is linear, y = R x, so ∂x = Rᵀ ḡ: the kernel's adjoint.
                tape.accumulate(grads, x, |dx| resize::resize_adjoint(mode, &geom, gd, dx));
            }
        }
        Ok(())
    }
}

fn add_into(dst: &mut [f32], src: &[f32]) {
    dst.iter_mut().zip(src).for_each(|(d, &s)| *d += s);
}

/// The adjoint rule of a pointwise op `y = f(a)`: `ā += ḡ ⊙ f'(x, y)` (the first
/// contribution written directly, see [`Tape::accumulate_fresh`]).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn chain_rule(
    tape: &Tape<'_>,
    grads: &mut [Option<Tensor>],
    a: Var,
    g: &[f32],
    x: &[f32],
    y: &[f32],
    local: impl Fn(f32, f32) -> f32 + Copy,
) -> Result<()> {
    let fresh = || {
        g.iter()
            .zip(x)
            .zip(y)
            .map(|((&gi, &xi), &yi)| gi * local(xi, yi))
            .collect()
    };
    tape.accumulate_fresh(grads, a, fresh, |da| chain(da, g, x, y, local))
}

/// `da[i] += g[i] · f'(x[i], y[i])`: the chain rule for a pointwise op, given its local
/// derivative in terms of its input x and output y.
#[inline(always)]
fn chain(da: &mut [f32], g: &[f32], x: &[f32], y: &[f32], local: impl Fn(f32, f32) -> f32) {
    for (((d, &gi), &xi), &yi) in da.iter_mut().zip(g).zip(x).zip(y) {
        *d += gi * local(xi, yi);
    }
}

#[inline(always)]
fn sign(x: f32) -> f32 {
    if x > 0.0 {
        1.0
    } else if x < 0.0 {
        -1.0
    } else {
        0.0
    }
}

/// Forward passes: each validates shapes, computes the value, and records the node.
impl Tape<'_> {
    /// `op(a) · op(b)` for matrices, transposing an operand when its flag is set (without a copy).
    pub fn matmul_t(&mut self, a: Var, trans_a: bool, b: Var, trans_b: bool) -> Result<Var> {
        let y = self.value(a).matmul_t(trans_a, self.value(b), trans_b)?;
        Ok(self.push(
            Op::Matmul {
                a,
                b,
                trans_a,
                trans_b,
            },
            y,
        ))
    }

    /// `a · b` for matrices.
    pub fn matmul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.matmul_t(a, false, b, false)
    }

    fn binary(&mut self, kind: BinaryKind, a: Var, b: Var) -> Result<Var> {
        let (av, bv) = (self.value(a), self.value(b));
        let same = av.shape() == bv.shape();
        let last = av.dims().last().copied();
        let row = !same
            && bv.shape().rank() <= 2
            && Some(bv.numel()) == last
            && bv.dims().iter().rev().skip(1).all(|&d| d == 1);
        if !same && !row {
            return Err(Error::shape(
                "binary op",
                format!(
                    "b shaped like a {} or a row of {}",
                    av.shape(),
                    last.unwrap_or(0)
                ),
                format!("{}", bv.shape()),
            ));
        }
        let bd = bv.data();
        let nb = bd.len();
        let f = match kind {
            BinaryKind::Add => |x: f32, y: f32| x + y,
            BinaryKind::Sub => |x: f32, y: f32| x - y,
            BinaryKind::Mul => |x: f32, y: f32| x * y,
            BinaryKind::Div => |x: f32, y: f32| x / y,
        };
        let data: Vec<f32> = av
            .data()
            .iter()
            .enumerate()
            .map(|(i, &x)| f(x, bd[if row { i % nb } else { i }]))
            .collect();
        let y = Tensor::from_vec(data, av.dims())?;
        Ok(self.push(
            Op::Binary {
                kind,
                a,
                b,
                b_is_row: row,
            },
            y,
        ))
    }

    /// `a + b`; `b` shaped like `a` or a row vector broadcast over the last axis (bias add).
    pub fn add(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryKind::Add, a, b)
    }
    /// `a − b` (same broadcasting as [`Tape::add`]).
    pub fn sub(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryKind::Sub, a, b)
    }
    /// `a ⊙ b` (same broadcasting as [`Tape::add`]).
    pub fn mul(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryKind::Mul, a, b)
    }
    /// `a / b` (same broadcasting as [`Tape::add`]).
    pub fn div(&mut self, a: Var, b: Var) -> Result<Var> {
        self.binary(BinaryKind::Div, a, b)
    }
    /// `a + s`.
    pub fn add_scalar(&mut self, a: Var, s: f32) -> Var {
        let y = self.value(a).add_scalar(s);
        self.push(Op::AddScalar { a }, y)
    }
    /// `s · a`.
    pub fn mul_scalar(&mut self, a: Var, s: f32) -> Var {
        let y = self.value(a).mul_scalar(s);
        self.push(Op::MulScalar { a, s }, y)
    }

    fn unary(&mut self, kind: UnaryKind, a: Var) -> Var {
        let x = self.value(a);
        let y = match kind {
            UnaryKind::Relu => x.relu(),
            UnaryKind::Sigmoid => x.sigmoid(),
            UnaryKind::Tanh => x.tanh(),
            UnaryKind::Exp => x.exp(),
            UnaryKind::Log => x.log(),
            UnaryKind::Abs => x.abs(),
        };
        self.push(Op::Unary { kind, a }, y)
    }
    /// `max(a, 0)`.
    pub fn relu(&mut self, a: Var) -> Var {
        self.unary(UnaryKind::Relu, a)
    }
    /// Logistic sigmoid.
    pub fn sigmoid(&mut self, a: Var) -> Var {
        self.unary(UnaryKind::Sigmoid, a)
    }
    /// Hyperbolic tangent.
    pub fn tanh(&mut self, a: Var) -> Var {
        self.unary(UnaryKind::Tanh, a)
    }
    /// `e^a`.
    pub fn exp(&mut self, a: Var) -> Var {
        self.unary(UnaryKind::Exp, a)
    }
    /// `ln a`.
    pub fn log(&mut self, a: Var) -> Var {
        self.unary(UnaryKind::Log, a)
    }
    /// `|a|` (for the L1 penalty).
    pub fn abs(&mut self, a: Var) -> Var {
        self.unary(UnaryKind::Abs, a)
    }

    /// Sum of all elements (a scalar).
    pub fn sum(&mut self, a: Var) -> Var {
        let y = Tensor::scalar(self.value(a).sum_all());
        self.push(Op::SumAll { a }, y)
    }
    /// Mean of all elements (a scalar).
    pub fn mean(&mut self, a: Var) -> Var {
        let y = Tensor::scalar(self.value(a).mean_all());
        self.push(Op::MeanAll { a }, y)
    }
    /// Sum along `axis` (removed).
    pub fn sum_axis(&mut self, a: Var, axis: usize) -> Result<Var> {
        let y = self.value(a).sum_axis(axis)?;
        Ok(self.push(Op::SumAxis { a, axis }, y))
    }
    /// Mean along `axis` (removed).
    pub fn mean_axis(&mut self, a: Var, axis: usize) -> Result<Var> {
        let y = self.value(a).mean_axis(axis)?;
        Ok(self.push(Op::MeanAxis { a, axis }, y))
    }

    /// Mean softmax cross-entropy of `logits` (batch × classes) against integer labels,
    /// fused and computed with the log-sum-exp trick:
    /// `−log p[y] = log Σ_c e^{z_c − max z} − (z_y − max z)`, so no exponential overflows.
    pub fn softmax_cross_entropy(&mut self, logits: Var, labels: &[u32]) -> Result<Var> {
        let z = self.value(logits);
        let (batch, classes) = z.matrix_dims("softmax_cross_entropy")?;
        if labels.len() != batch {
            return Err(Error::shape(
                "softmax_cross_entropy",
                format!("{batch} labels"),
                format!("{}", labels.len()),
            ));
        }
        if let Some(&bad) = labels.iter().find(|&&l| l as usize >= classes) {
            return Err(Error::invalid(
                "softmax_cross_entropy",
                format!("label {bad} >= {classes} classes"),
            ));
        }
        let mut probs = vec![0.0f32; batch * classes];
        let mut loss = 0.0f64;
        for (b, &label) in labels.iter().enumerate() {
            let row = &z.data()[b * classes..(b + 1) * classes];
            let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
            let p = &mut probs[b * classes..(b + 1) * classes];
            let mut sum = 0.0f32;
            for (pc, &zc) in p.iter_mut().zip(row) {
                *pc = (zc - max).exp();
                sum += *pc;
            }
            p.iter_mut().for_each(|pc| *pc /= sum);
            loss += (sum.ln() - (row[label as usize] - max)) as f64;
        }
        let y = Tensor::scalar((loss / batch as f64) as f32);
        Ok(self.push(
            Op::SoftmaxCrossEntropy {
                logits,
                labels: labels.to_vec(),
                probs,
            },
            y,
        ))
    }

    /// Mean squared error `mean((a − target)²)`.
    pub fn mse(&mut self, a: Var, target: Var) -> Result<Var> {
        let d = self.value(a).sub(self.value(target))?;
        let y = Tensor::scalar(
            d.data()
                .iter()
                .map(|&x| (x as f64) * (x as f64))
                .sum::<f64>() as f32
                / d.numel() as f32,
        );
        Ok(self.push(Op::Mse { a, target }, y))
    }

    /// Same values, new dimensions.
    pub fn reshape(&mut self, a: Var, dims: &[usize]) -> Result<Var> {
        let y = self.value(a).clone().reshape(dims)?;
        Ok(self.push(Op::Reshape { a }, y))
    }

    /// 2-D convolution: `x` (n, c_in, h, w), `w` (c_out, c_in, kh, kw), optional bias (c_out).
    pub fn conv2d(
        &mut self,
        x: Var,
        w: Var,
        b: Option<Var>,
        stride: usize,
        pad: usize,
    ) -> Result<Var> {
        let (xv, wv) = (self.value(x), self.value(w));
        let (xd, wd) = (xv.dims(), wv.dims());
        if xd.len() != 4 || wd.len() != 4 || xd[1] != wd[1] || stride == 0 {
            return Err(Error::shape(
                "conv2d",
                "x (n,c,h,w), w (c_out,c,kh,kw), stride >= 1",
                format!("x {xd:?}, w {wd:?}, stride {stride}"),
            ));
        }
        let geom = Conv2dGeometry {
            n: xd[0],
            c_in: xd[1],
            h: xd[2],
            w: xd[3],
            c_out: wd[0],
            kh: wd[2],
            kw: wd[3],
            stride,
            pad,
        };
        if geom.out_h() == 0 || geom.out_w() == 0 {
            return Err(Error::shape(
                "conv2d",
                "kernel no larger than the padded input",
                format!("x {xd:?}, w {wd:?}, pad {pad}"),
            ));
        }
        if let Some(b) = b {
            self.value(b).expect_dims("conv2d bias", &[geom.c_out])?;
        }
        let mut y = Tensor::zeros(&[geom.n, geom.c_out, geom.out_h(), geom.out_w()])?;
        conv::conv2d_forward(
            &geom,
            xv.data(),
            wv.data(),
            b.map(|b| self.value(b).data()),
            y.data_mut(),
        );
        Ok(self.push(Op::Conv2d { x, w, b, geom }, y))
    }

    fn pool_geometry(
        &self,
        op: &'static str,
        x: Var,
        k: usize,
        stride: usize,
    ) -> Result<(Pool2dGeometry, [usize; 4])> {
        let d = self.value(x).dims();
        if d.len() != 4 || k == 0 || stride == 0 || k > d[2] || k > d[3] {
            return Err(Error::shape(
                op,
                "x (n,c,h,w) with window 1..=min(h,w), stride >= 1",
                format!("x {d:?}, k {k}, stride {stride}"),
            ));
        }
        let geom = Pool2dGeometry {
            planes: d[0] * d[1],
            h: d[2],
            w: d[3],
            k,
            stride,
        };
        Ok((geom, [d[0], d[1], geom.out_h(), geom.out_w()]))
    }

    /// Max pooling with a `k × k` window (no padding, floor output size).
    pub fn max_pool2d(&mut self, x: Var, k: usize, stride: usize) -> Result<Var> {
        let (geom, dims) = self.pool_geometry("max_pool2d", x, k, stride)?;
        let mut y = Tensor::zeros(&dims)?;
        let mut argmax = vec![0u32; y.numel()];
        pool::max_pool2d_forward(&geom, self.value(x).data(), y.data_mut(), &mut argmax);
        Ok(self.push(Op::MaxPool2d { x, geom, argmax }, y))
    }

    /// Average pooling with a `k × k` window.
    pub fn avg_pool2d(&mut self, x: Var, k: usize, stride: usize) -> Result<Var> {
        let (geom, dims) = self.pool_geometry("avg_pool2d", x, k, stride)?;
        let mut y = Tensor::zeros(&dims)?;
        pool::avg_pool2d_forward(&geom, self.value(x).data(), y.data_mut());
        Ok(self.push(Op::AvgPool2d { x, geom }, y))
    }

    /// Global average pooling: (n, c, h, w) → (n, c).
    pub fn global_avg_pool(&mut self, x: Var) -> Result<Var> {
        let d = self.value(x).dims().to_vec();
        if d.len() != 4 || d[2] * d[3] == 0 {
            return Err(Error::shape(
                "global_avg_pool",
                "x (n,c,h,w) with h*w > 0",
                format!("{d:?}"),
            ));
        }
        let (planes, hw) = (d[0] * d[1], d[2] * d[3]);
        let mut y = Tensor::zeros(&[d[0], d[1]])?;
        pool::global_avg_pool_forward(planes, hw, self.value(x).data(), y.data_mut());
        Ok(self.push(Op::GlobalAvgPool { x, planes, hw }, y))
    }

    /// Resizes the last two axes of a matrix (h, w) or a batch (n, c, h, w).
    pub fn resize(&mut self, x: Var, mode: ResizeMode, to: ResizeTo) -> Result<Var> {
        let d = self.value(x).dims().to_vec();
        let (planes, h, w) = match d.len() {
            2 => (1, d[0], d[1]),
            4 => (d[0] * d[1], d[2], d[3]),
            _ => {
                return Err(Error::shape(
                    "resize",
                    "a matrix (h,w) or (n,c,h,w)",
                    format!("{d:?}"),
                ))
            }
        };
        let geom = match to {
            ResizeTo::Scale(s) if s > 0.0 && s.is_finite() => {
                ResizeGeometry::by_scale(planes, h, w, s)
            }
            ResizeTo::Size(oh, ow) => ResizeGeometry::by_size(planes, h, w, oh, ow),
            ResizeTo::Scale(s) => {
                return Err(Error::invalid(
                    "resize",
                    format!("scale {s} must be positive and finite"),
                ))
            }
        };
        if geom.out_h == 0 || geom.out_w == 0 || h == 0 || w == 0 {
            return Err(Error::shape(
                "resize",
                "non-empty input and output",
                format!("{h}x{w} -> {}x{}", geom.out_h, geom.out_w),
            ));
        }
        let mut out_dims = d.clone();
        let r = out_dims.len();
        out_dims[r - 2] = geom.out_h;
        out_dims[r - 1] = geom.out_w;
        let mut y = Tensor::zeros(&out_dims)?;
        resize::resize(mode, &geom, self.value(x).data(), y.data_mut());
        Ok(self.push(Op::Resize { x, geom, mode }, y))
    }
}
