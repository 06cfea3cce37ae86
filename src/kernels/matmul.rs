//! Single-precision matrix multiply: `C = alpha * op(A) * op(B) + beta * C`.
//!
//! All matrices are dense row-major. `op(A)` is m×k: A is stored m×k when `trans_a` is false
//! and k×m when it is true (so backprop's `dW = dY^T X` never materializes a transpose).
//! Likewise `op(B)` is k×n, stored k×n or n×k. C is m×n. When `beta == 0`, C is write-only:
//! whatever it held (even NaN) does not leak into the result.

use super::isa::{self, Isa};

/// Dimensions and scalars of one `C = alpha * op(A) * op(B) + beta * C` product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    /// Rows of op(A) and of C.
    pub m: usize,
    /// Columns of op(A), rows of op(B): the reduction length.
    pub k: usize,
    /// Columns of op(B) and of C.
    pub n: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the previous C (0 means C is not read).
    pub beta: f32,
    /// A is stored k×m and used transposed.
    pub trans_a: bool,
    /// B is stored n×k and used transposed.
    pub trans_b: bool,
}

impl Gemm {
    /// `C = A * B` with A m×k and B k×n, no transposes, alpha = 1, beta = 0.
    pub fn new(m: usize, k: usize, n: usize) -> Self {
        Gemm {
            m,
            k,
            n,
            alpha: 1.0,
            beta: 0.0,
            trans_a: false,
            trans_b: false,
        }
    }

    /// Element of op(A) at (i, p).
    #[inline(always)]
    pub fn a_at(&self, a: &[f32], i: usize, p: usize) -> f32 {
        if self.trans_a {
            a[p * self.m + i]
        } else {
            a[i * self.k + p]
        }
    }

    /// Element of op(B) at (p, j).
    #[inline(always)]
    pub fn b_at(&self, b: &[f32], p: usize, j: usize) -> f32 {
        if self.trans_b {
            b[j * self.k + p]
        } else {
            b[p * self.n + j]
        }
    }

    /// Multiply-adds of the product (`m * n * k`); flops are twice this.
    pub fn macs(&self) -> usize {
        self.m * self.n * self.k
    }

    fn debug_check(&self, a: &[f32], b: &[f32], c: &[f32]) {
        debug_assert_eq!(a.len(), self.m * self.k, "A must hold m*k elements");
        debug_assert_eq!(b.len(), self.k * self.n, "B must hold k*n elements");
        debug_assert_eq!(c.len(), self.m * self.n, "C must hold m*n elements");
    }
}

/// The definition, one dot product per element, accumulated in f64: the test oracle.
pub fn matmul_reference(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    g.debug_check(a, b, c);
    for i in 0..g.m {
        for j in 0..g.n {
            let mut dot = 0.0f64;
            for p in 0..g.k {
                dot += g.a_at(a, i, p) as f64 * g.b_at(b, p, j) as f64;
            }
            let prev = if g.beta == 0.0 {
                0.0
            } else {
                g.beta * c[i * g.n + j]
            };
            c[i * g.n + j] = g.alpha * dot as f32 + prev;
        }
    }
}

/// The dispatching entry point: the ISA from [`isa::selected`], threads from
/// [`isa::num_threads`].
pub fn sgemm(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_with(isa::selected(), isa::num_threads(), g, a, b, c);
}

/// [`sgemm`] with an explicit ISA and thread budget (for tests and benches).
pub fn sgemm_with(isa: Isa, threads: usize, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    g.debug_check(a, b, c);
    let _ = (isa, threads);
    sgemm_simple(g, a, b, c);
}

/// Placeholder fast path until the packed kernels land: an i-p-j loop whose inner loop is a
/// contiguous axpy over a row of C, which the compiler vectorizes.
fn sgemm_simple(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (g.m, g.k, g.n);
    if g.beta == 0.0 {
        c.fill(0.0);
    } else if g.beta != 1.0 {
        c.iter_mut().for_each(|x| *x *= g.beta);
    }
    let mut b_row = vec![0.0f32; n];
    for i in 0..m {
        let c_row = &mut c[i * n..(i + 1) * n];
        for p in 0..k {
            let s = g.alpha * g.a_at(a, i, p);
            let row: &[f32] = if g.trans_b {
                for (j, x) in b_row.iter_mut().enumerate() {
                    *x = b[j * k + p];
                }
                &b_row
            } else {
                &b[p * n..(p + 1) * n]
            };
            for (cj, bj) in c_row.iter_mut().zip(row) {
                *cj += s * bj;
            }
        }
    }
}
