//! The definition of the product, kept forever as the test oracle.

use super::Gemm;

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
