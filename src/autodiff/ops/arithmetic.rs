//! Arithmetic: matrix products, elementwise binary ops (with a row broadcast for bias adds),
//! scalar shifts and scales, and pointwise nonlinearities.
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
//!
//! Matmul, from `Y_ij = Σ_p A_ip B_pj`: `∂root/∂A_ip = Σ_j Ȳ_ij B_pj = (Ȳ Bᵀ)_ip`, and
//! likewise for B.

use crate::autodiff::op::{BinaryKind, Op, UnaryKind, Var};
use crate::autodiff::tape::{Adjoints, Tape};
use crate::error::{Error, Result};
use crate::kernels::matmul::{sgemm, Gemm};
use crate::tensor::Tensor;

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
        // Row by row against b (one row when shapes match): no index arithmetic per element
        // (an `i % nb` per element was a 64-bit division, slower than the add itself).
        let ad = av.data();
        let width = if row { nb } else { ad.len() };
        let mut data: Vec<f32> = Vec::with_capacity(ad.len());
        for a_row in ad.chunks_exact(width.max(1)) {
            data.extend(a_row.iter().zip(bd).map(|(&x, &y)| f(x, y)));
        }
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
}

// Backward rules.

/// `y = op(A) op(B)`;  ∂A: ḡ op(B)ᵀ;  ∂B: op(A)ᵀ ḡ.  When an operand was stored transposed,
/// its adjoint is the transpose of that, which we get by swapping the product's operands and
/// flags instead of copying anything.
pub(crate) fn matmul_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    a: Var,
    b: Var,
    trans_a: bool,
    trans_b: bool,
) -> Result<()> {
    let gd = g.data();
    let (av, bv) = (adj.value(a), adj.value(b));
    let (m, n) = (g.dims()[0], g.dims()[1]);
    let k = if trans_a { av.dims()[0] } else { av.dims()[1] };
    // Accumulating product: `out += lhs · rhs` (beta = 1) under the given flags.
    let gemm_acc = |gm: Gemm, ta, tb, lhs: &[f32], rhs: &[f32], out: &mut [f32]| {
        let gm = Gemm {
            beta: 1.0,
            trans_a: ta,
            trans_b: tb,
            ..gm
        };
        sgemm(&gm, lhs, rhs, out)
    };
    adj.accumulate(a, |da| {
        if !trans_a {
            // dA (m×k) = ḡ (m×n) · op(B)ᵀ
            gemm_acc(Gemm::new(m, n, k), false, !trans_b, gd, bv.data(), da)
        } else {
            // A stored k×m: dA = op(B) (k×n) · ḡᵀ (n×m)
            gemm_acc(Gemm::new(k, n, m), trans_b, true, bv.data(), gd, da)
        }
    });
    adj.accumulate(b, |db| {
        if !trans_b {
            // dB (k×n) = op(A)ᵀ (k×m) · ḡ (m×n)
            gemm_acc(Gemm::new(k, m, n), !trans_a, false, av.data(), gd, db)
        } else {
            // B stored n×k: dB = ḡᵀ (n×m) · op(A) (m×k)
            gemm_acc(Gemm::new(n, m, k), true, trans_a, gd, av.data(), db)
        }
    });
    Ok(())
}

/// ∂(a+b) = (1, 1); ∂(a−b) = (1, −1); ∂(ab) = (b, a); ∂(a/b) = (1/b, −a/b²). A broadcast row
/// receives the sum over the rows it was added to.
pub(crate) fn binary_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    kind: BinaryKind,
    a: Var,
    b: Var,
    b_is_row: bool,
) -> Result<()> {
    let gd = g.data();
    let (ad, bd) = (adj.value(a).data(), adj.value(b).data());
    // Walk rows of b's length (one row when b is shaped like a): position j of a row is b's
    // element j. Each adjoint element gets its terms in the same order as a flat loop over
    // i would add them (rows in order), so the sums are the same bits.
    let width = if b_is_row { bd.len() } else { gd.len() }.max(1);
    let rows = || gd.chunks_exact(width).zip(ad.chunks_exact(width));
    adj.accumulate(a, |da| {
        for (da_r, g_r) in da.chunks_exact_mut(width).zip(gd.chunks_exact(width)) {
            let terms = da_r.iter_mut().zip(g_r).zip(bd);
            match kind {
                BinaryKind::Add | BinaryKind::Sub => terms.for_each(|((d, &gi), _)| *d += gi),
                BinaryKind::Mul => terms.for_each(|((d, &gi), &bj)| *d += gi * bj),
                BinaryKind::Div => terms.for_each(|((d, &gi), &bj)| *d += gi / bj),
            }
        }
    });
    adj.accumulate(b, |db| {
        for (g_r, a_r) in rows() {
            let terms = db.iter_mut().zip(g_r).zip(a_r).zip(bd);
            match kind {
                BinaryKind::Add => terms.for_each(|(((d, &gi), _), _)| *d += gi),
                BinaryKind::Sub => terms.for_each(|(((d, &gi), _), _)| *d += -gi),
                BinaryKind::Mul => terms.for_each(|(((d, &gi), &ai), _)| *d += gi * ai),
                BinaryKind::Div => {
                    terms.for_each(|(((d, &gi), &ai), &bj)| *d += -gi * ai / (bj * bj))
                }
            }
        }
    });
    Ok(())
}

/// `y = a + s`: `ā += ḡ`.
pub(crate) fn add_scalar_backward(adj: &mut Adjoints<'_, '_>, g: &Tensor, a: Var) -> Result<()> {
    adj.accumulate_copy(a, g.data())
}

/// `y = s · a`: `ā += s ḡ`.
pub(crate) fn mul_scalar_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    a: Var,
    s: f32,
) -> Result<()> {
    let gd = g.data();
    adj.accumulate_fresh(
        a,
        || gd.iter().map(|&gi| s * gi).collect(),
        |da| da.iter_mut().zip(gd).for_each(|(d, &gi)| *d += s * gi),
    )
}

/// `y = f(x)` pointwise: `x̄ += ḡ ⊙ f'(x, y)`, with f' from the input x or the saved output y.
pub(crate) fn unary_backward(
    adj: &mut Adjoints<'_, '_>,
    out: &Tensor,
    g: &Tensor,
    kind: UnaryKind,
    a: Var,
) -> Result<()> {
    let (gd, x, y) = (g.data(), adj.value(a).data(), out.data());
    // One monomorphized loop per kind (the match hoisted out) so each vectorizes.
    macro_rules! rule {
        ($local:expr) => {
            chain_rule(adj, a, gd, x, y, $local)
        };
    }
    match kind {
        UnaryKind::Relu => rule!(|x, _| (x > 0.0) as u8 as f32), // 0 at the kink, as PyTorch
        UnaryKind::Sigmoid => rule!(|_, y| y * (1.0 - y)),       // σ' = σ(1 − σ)
        UnaryKind::Tanh => rule!(|_, y| 1.0 - y * y),            // tanh' = 1 − tanh²
        UnaryKind::Exp => rule!(|_, y| y),                       // (eˣ)' = eˣ
        UnaryKind::Log => rule!(|x, _| 1.0 / x),                 // (ln x)' = 1/x
        UnaryKind::Abs => rule!(|x, _| sign(x)),                 // |x|' = sign x (0 at 0)
    }
}

/// The adjoint rule of a pointwise op `y = f(a)`: `ā += ḡ ⊙ f'(x, y)` (the first
/// contribution written directly, see [`Adjoints::accumulate_fresh`]).
#[inline(always)]
fn chain_rule(
    adj: &mut Adjoints<'_, '_>,
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
    adj.accumulate_fresh(a, fresh, |da| chain(da, g, x, y, local))
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
