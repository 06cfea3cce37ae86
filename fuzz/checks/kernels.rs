//! Fuzz target `kernels`: sgemm (every ISA this CPU supports, 1 and 2 threads) and the fast
//! conv2d kernels (both product engines) against their by-definition references.
//!
//! Run (stable toolchain; cargo-fuzz needs nightly `-Z` flags, which RUSTC_BOOTSTRAP unlocks):
//!   cargo install cargo-fuzz
//!   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run kernels --fuzz-dir . -- -max_total_time=60
//! (see fuzz/README.md). Inputs: the first byte picks matmul or conv, the next bytes give
//! small shapes and flags, the rest are values (two bytes each: i16 / 256, or four bytes as
//! a raw f32 when the "raw" flag is set). Non-finite or huge inputs are skipped.
//!
//! Closeness: each result may differ from the f64-accumulated reference by
//! `(terms + 2) * 2^-23 * sum |products|` (+ the same for beta*C), the standard bound for a
//! sum of `terms` rounded products in any order, with or without FMA; the `sum |products|` is
//! itself computed by running the reference on absolute values; plus `2^-149 * sum_p (|a_ip| +
//! |b_pj|)` for paths that round `alpha * a` (or `alpha * b`) to a subnormal first.

use grad_instructor::kernels::conv::{
    conv2d_backward_input_reference, conv2d_backward_input_with, conv2d_backward_weight_reference,
    conv2d_backward_weight_with, conv2d_forward_reference, conv2d_forward_with, Conv2dGeometry,
    ConvGemm,
};
use grad_instructor::kernels::isa;
use grad_instructor::kernels::matmul::{matmul_reference, sgemm_with, Gemm};

/// Reads bytes from the front of the input; exhausted input reads as zeros.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }
    /// A value in `lo..=hi`.
    fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + self.byte() as usize % (hi - lo + 1)
    }
    fn values(&mut self, len: usize, raw: bool) -> Vec<f32> {
        (0..len)
            .map(|_| {
                if raw {
                    f32::from_le_bytes([self.byte(), self.byte(), self.byte(), self.byte()])
                } else {
                    i16::from_le_bytes([self.byte(), self.byte()]) as f32 / 256.0
                }
            })
            .collect()
    }
}

/// Finite and small enough that no f32 product or sum of a few thousand overflows.
fn usable(v: &[f32]) -> bool {
    v.iter().all(|x| x.is_finite() && x.abs() < 1e15)
}

fn abs(v: &[f32]) -> Vec<f32> {
    v.iter().map(|x| x.abs()).collect()
}

const EPS: f64 = 1.0 / (1u64 << 23) as f64;

/// Spacing of f32 subnormals, 2^-149: the absolute rounding error of a product that underflows.
const SUBNORMAL_ULP: f64 = 1.401298464324817e-45;

fn check(what: &str, case: &dyn std::fmt::Debug, got: &[f32], want: &[f32], bound: &[f64]) {
    for i in 0..got.len() {
        let err = (got[i] as f64 - want[i] as f64).abs();
        // The reference itself rounds its f64 sum to f32 once: allow one ulp of the result.
        let tol = bound[i] + want[i].abs() as f64 * EPS + f64::from(f32::MIN_POSITIVE);
        assert!(
            err <= tol,
            "{what} {case:?}: element {i}: {} vs reference {} (err {err}, tol {tol})",
            got[i],
            want[i]
        );
    }
}

fn fuzz_matmul(b: &mut Bytes) {
    let flags = b.byte();
    let (m, k, n) = (b.range(1, 40), b.range(0, 40), b.range(1, 40));
    let scalars = [0.0f32, 1.0, 2.5, -1.0];
    let g = Gemm {
        alpha: scalars[(flags >> 2) as usize % 4],
        beta: scalars[(flags >> 4) as usize % 4],
        trans_a: flags & 1 != 0,
        trans_b: flags & 2 != 0,
        ..Gemm::new(m, k, n)
    };
    let raw = flags & 0x40 != 0;
    let a = b.values(m * k, raw);
    let bm = b.values(k * n, raw);
    let c0 = b.values(m * n, raw);
    if !usable(&a) || !usable(&bm) || !usable(&c0) {
        return;
    }
    let mut want = c0.clone();
    matmul_reference(&g, &a, &bm, &mut want);
    // sum |alpha a b| + |beta c| per element, via the reference on absolute values.
    let mut bound_c = abs(&c0);
    let abs_g = Gemm {
        alpha: g.alpha.abs(),
        beta: g.beta.abs(),
        ..g
    };
    matmul_reference(&abs_g, &abs(&a), &abs(&bm), &mut bound_c);
    if !usable(&want) || !usable(&bound_c) {
        return;
    }
    // Underflow: a path may fold alpha into one operand (the small-product path computes
    // fl(alpha * a_ip) and then axpys B's row). When alpha * a_ip is subnormal that rounding
    // is absolute, up to 2^-150, not relative, and b_pj multiplies it (finding
    // `sgemm_folded_alpha_underflow_stays_within_the_absolute_bound` in
    // tests/fuzz_regressions.rs). So add 2^-149 * sum_p (|a_ip| + |b_pj|) per element.
    let ones_gemm = Gemm {
        alpha: 1.0,
        beta: 0.0,
        ..g
    };
    let mut sum_a = vec![0.0f32; m * n];
    matmul_reference(&ones_gemm, &abs(&a), &vec![1.0; k * n], &mut sum_a);
    let mut sum_b = vec![0.0f32; m * n];
    matmul_reference(&ones_gemm, &vec![1.0; m * k], &abs(&bm), &mut sum_b);
    let bound: Vec<f64> = (0..m * n)
        .map(|i| {
            (k + 2) as f64 * EPS * bound_c[i] as f64
                + SUBNORMAL_ULP * (sum_a[i] as f64 + sum_b[i] as f64)
        })
        .collect();
    for isa in isa::supported() {
        for threads in [1, 2] {
            // beta = 0 must not read C: prefill with NaN to prove it.
            let mut got = if g.beta == 0.0 {
                vec![f32::NAN; m * n]
            } else {
                c0.clone()
            };
            sgemm_with(isa, threads, &g, &a, &bm, &mut got);
            check("sgemm", &(isa, threads, &g), &got, &want, &bound);
        }
    }
}

fn fuzz_conv(b: &mut Bytes) {
    let flags = b.byte();
    let g = Conv2dGeometry {
        n: b.range(1, 3),
        c_in: b.range(1, 4),
        h: b.range(1, 12),
        w: b.range(1, 12),
        c_out: b.range(1, 6),
        kh: b.range(1, 4),
        kw: b.range(1, 4),
        stride: b.range(1, 3),
        pad: b.range(0, 2),
    };
    let raw = flags & 1 != 0;
    let with_bias = flags & 2 != 0;
    let x = b.values(g.input_len(), raw);
    let w = b.values(g.weight_len(), raw);
    let bias = b.values(g.c_out, raw);
    let dy = b.values(g.output_len(), raw);
    if !usable(&x) || !usable(&w) || !usable(&bias) || !usable(&dy) {
        return;
    }
    let bias = with_bias.then_some(bias.as_slice());
    let abs_bias = bias.map(abs);
    let (ax, aw, ady) = (abs(&x), abs(&w), abs(&dy));

    // Forward: K = c_in*kh*kw terms (+ bias).
    let mut want_y = vec![0.0; g.output_len()];
    conv2d_forward_reference(&g, &x, &w, bias, &mut want_y);
    let mut abs_y = vec![0.0; g.output_len()];
    conv2d_forward_reference(&g, &ax, &aw, abs_bias.as_deref(), &mut abs_y);
    // Input gradient: at most c_out*kh*kw terms per element.
    let mut want_dx = vec![0.0; g.input_len()];
    conv2d_backward_input_reference(&g, &dy, &w, &mut want_dx);
    let mut abs_dx = vec![0.0; g.input_len()];
    conv2d_backward_input_reference(&g, &ady, &aw, &mut abs_dx);
    // Weight gradient: at most n*out_h*out_w terms per element.
    let mut want_dw = vec![0.0; g.weight_len()];
    conv2d_backward_weight_reference(&g, &x, &dy, &mut want_dw);
    let mut abs_dw = vec![0.0; g.weight_len()];
    conv2d_backward_weight_reference(&g, &ax, &ady, &mut abs_dw);
    if ![&want_y, &abs_y, &want_dx, &abs_dx, &want_dw, &abs_dw]
        .iter()
        .all(|v| usable(v))
    {
        return;
    }
    let bound = |sums: &[f32], terms: usize| -> Vec<f64> {
        sums.iter()
            .map(|&s| (terms + 2) as f64 * EPS * s as f64)
            .collect()
    };
    let by = bound(&abs_y, g.col_rows());
    let bdx = bound(&abs_dx, g.c_out * g.kh * g.kw);
    let bdw = bound(&abs_dw, g.n * g.out_h() * g.out_w());
    for engine in [ConvGemm::Sgemm, ConvGemm::Direct, ConvGemm::Auto] {
        let case = (engine, &g);
        let mut y = vec![f32::NAN; g.output_len()];
        conv2d_forward_with(engine, &g, &x, &w, bias, &mut y);
        check("conv2d_forward", &case, &y, &want_y, &by);
        let mut dx = vec![0.0; g.input_len()];
        conv2d_backward_input_with(engine, &g, &dy, &w, &mut dx);
        check("conv2d_backward_input", &case, &dx, &want_dx, &bdx);
        let mut dw = vec![0.0; g.weight_len()];
        conv2d_backward_weight_with(engine, &g, &x, &dy, &mut dw);
        check("conv2d_backward_weight", &case, &dw, &want_dw, &bdw);
    }
}

/// The target's check of one input: panics when an invariant fails.
pub fn run(data: &[u8]) {
    let mut bytes = Bytes(data);
    if bytes.byte() % 2 == 0 {
        fuzz_matmul(&mut bytes);
    } else {
        fuzz_conv(&mut bytes);
    }
}
