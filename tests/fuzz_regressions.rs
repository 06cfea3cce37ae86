//! Inputs the fuzz targets (fuzz/fuzz_targets/) found crashing, replayed as plain tests so
//! they stay fixed. Each test names the target and the input it came from.

use grad_instructor::Tensor;

/// `tensor` target, input `d5 00 00 00 00 01 00 00 01 00`: a `[0, 0, 0]` tensor plus a `[0]`
/// row. The lengths agree (both 0), and `add_row` then asked for chunks of size 0, which
/// panics. An empty tensor plus an empty row is the empty tensor.
#[test]
fn add_row_with_zero_length_last_axis_is_ok_not_a_panic() {
    let a = Tensor::from_vec(vec![], &[0, 0, 0]).unwrap();
    let row = Tensor::from_vec(vec![], &[0]).unwrap();
    let out = a.add_row(&row).unwrap();
    assert_eq!(out.dims(), &[0, 0, 0]);
    // Nonzero leading axes, zero last axis: still empty, still fine.
    let b = Tensor::from_vec(vec![], &[3, 0]).unwrap();
    assert_eq!(b.add_row(&row).unwrap().dims(), &[3, 0]);
}

/// `tensor` target, timeout input (base64 `Av////////8TAAAA//////////wAAAAAAAAAAAA0AAAAAAAGAAECXQ==`):
/// `sum_axis` over an empty tensor whose zero dimension is the innermost looped over
/// `outer * len` (about 2^60) empty rows. The output is empty, so it returns at once.
#[test]
fn sum_axis_of_empty_tensor_with_huge_dims_returns_at_once() {
    let huge = 1usize << 40;
    let a = Tensor::from_vec(vec![], &[huge, 1 << 20, 0]).unwrap();
    let s = a.sum_axis(1).unwrap();
    assert_eq!(s.dims(), &[huge, 0]);
    assert_eq!(a.max_axis(0).unwrap().dims(), &[1 << 20, 0]);
}

/// `tensor` target, timeout input (base64 `Av////////8BgwAAAgAAAAEBAr4FAgH+//////+CXwU=`):
/// a product with a huge but empty operand (`[2^40, 0]` times `[0, 0]`) made the kernel walk
/// 2^40 empty rows. An empty or k = 0 product is now answered without the kernel.
#[test]
fn matmul_with_empty_operands_and_huge_dims_returns_at_once() {
    let huge = 1usize << 40;
    let a = Tensor::from_vec(vec![], &[huge, 0]).unwrap();
    let b = Tensor::from_vec(vec![], &[0, 0]).unwrap();
    assert_eq!(a.matmul(&b).unwrap().dims(), &[huge, 0]);
    // k = 0 with a real output: all zeros, as the sum over an empty k says.
    let a = Tensor::from_vec(vec![], &[2, 0]).unwrap();
    let b = Tensor::from_vec(vec![], &[0, 3]).unwrap();
    assert_eq!(a.matmul(&b).unwrap().data(), &[0.0; 6]);
    // Transposed: [0, 2^40]^T is 2^40 x 0, times [0, 0].
    let at = Tensor::from_vec(vec![], &[0, huge]).unwrap();
    let e = Tensor::from_vec(vec![], &[0, 0]).unwrap();
    assert_eq!(at.matmul_t(true, &e, false).unwrap().dims(), &[huge, 0]);
}

/// `tensor` target, input
/// `ff df ff ff ff 04 0a 00 e0 00 00 00 00 00 01 8c 0a 2c 00 00 00 00 00 00 00 f2 fe 05`
/// (decoded with the target's byte program of that time, `op % 6`): an empty
/// `[15, 0xe000_0a04_ffff, 0]` tensor summed over its zero axis asked for a
/// `[15, 0xe000_0a04_ffff]` output (3.7e15 elements) and aborted on the allocation. The
/// output shape is now checked against `MAX_ELEMENTS` (2^32) before anything is allocated.
#[test]
fn sum_over_zero_axis_with_huge_output_is_a_shape_error_not_an_abort() {
    use grad_instructor::Error;
    let a = Tensor::from_vec(vec![], &[15, 0xe000_0a04_ffff, 0]).unwrap();
    assert!(matches!(a.sum_axis(2), Err(Error::Shape { .. })));
    assert!(matches!(a.max_axis(2), Err(Error::Shape { .. })));
    assert!(matches!(a.mean_axis(2), Err(Error::Shape { .. })));
    // The same with the product as the outlet: [2^20, 0] x [0, 2^20] would be 2^40 zeros.
    let b = Tensor::from_vec(vec![], &[1 << 20, 0]).unwrap();
    let c = Tensor::from_vec(vec![], &[0, 1 << 20]).unwrap();
    assert!(matches!(b.matmul(&c), Err(Error::Shape { .. })));
    // And the shape from the old header comment: [2^40, 0, 2^40] is now refused outright,
    // since the product of its nonzero dimensions (2^80) does not fit in usize.
    assert!(matches!(
        Tensor::from_vec(vec![], &[1 << 40, 0, 1 << 40]),
        Err(Error::Shape { .. })
    ));
}

/// `kernels` target, input (base64)
/// `UOgAAf8tAAEAAAAA0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dHR0dEAAOgmAAAAIAAA/w==`:
/// m = 1, k = 1, n = 16, alpha = beta = 2.5, a = a subnormal (bits 0x0001002d, 9.2e-41),
/// B ≈ -3.4e10. The small-product path computes fl(alpha * a) first, a subnormal rounded to a
/// multiple of 2^-149, so its error is absolute (up to 2^-150), and B's 3.4e10 turns it into a
/// relative error of 3e-6 in C (25 ulp), beyond the target's `(k + 2) 2^-23 Σ|products|`
/// bound. Not a memory or logic bug (the reference differs only through underflow); the
/// target's bound now adds `2^-149 Σ_p (|a_ip| + |b_pj|)`, and this test holds every ISA to it.
#[test]
fn sgemm_folded_alpha_underflow_stays_within_the_absolute_bound() {
    use grad_instructor::kernels::isa;
    use grad_instructor::kernels::matmul::{matmul_reference, sgemm_with, Gemm};
    let a = [f32::from_bits(0x0001_002d)];
    let mut b = vec![f32::from_bits(0xd100_0000)];
    b.extend([f32::from_bits(0xd1d1_d1d1); 7]);
    b.extend([0x00d1_d1d1, 0x0026_e800, 0x0020_0000, 0x0000_ff00].map(f32::from_bits));
    b.extend([0.0; 4]);
    let g = Gemm {
        alpha: 2.5,
        beta: 2.5,
        ..Gemm::new(1, 1, 16)
    };
    let mut want = vec![0.0f32; 16];
    matmul_reference(&g, &a, &b, &mut want);
    for isa in isa::supported() {
        for threads in [1, 2] {
            let mut got = vec![0.0f32; 16];
            sgemm_with(isa, threads, &g, &a, &b, &mut got);
            for j in 0..16 {
                let err = (got[j] as f64 - want[j] as f64).abs();
                // k + 2 = 3 relative roundings of |alpha a b| (one product, alpha, the
                // reference's own f32 rounding), plus 2^-149 (|a| + |b_j|) for an underflowed
                // alpha * a (or alpha * b), plus the smallest normal for the output's rounding.
                let tol = 3.0 * 2f64.powi(-23) * (2.5 * a[0] as f64 * b[j] as f64).abs()
                    + 2f64.powi(-149) * (a[0].abs() as f64 + b[j].abs() as f64)
                    + f32::MIN_POSITIVE as f64;
                assert!(
                    err <= tol,
                    "{isa:?} x{threads} [{j}]: {} vs {}",
                    got[j],
                    want[j]
                );
            }
        }
    }
}
