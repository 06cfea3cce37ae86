//! The fast conv2d kernels (im2col + sgemm) against the by-definition references.

mod common;

use common::{assert_close, uniform};
use grad_instructor::kernels::conv::{
    col2im_add, conv2d_backward_bias, conv2d_backward_input, conv2d_backward_input_reference,
    conv2d_backward_input_with, conv2d_backward_weight, conv2d_backward_weight_reference,
    conv2d_backward_weight_with, conv2d_forward, conv2d_forward_reference, conv2d_forward_with,
    im2col, Conv2dGeometry, ConvGemm,
};

/// Every engine is tested directly, whatever `Auto` would pick for the shape.
const ENGINES: [ConvGemm; 3] = [ConvGemm::Sgemm, ConvGemm::Direct, ConvGemm::Auto];
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Small integers in [-3, 3]: every product and every partial sum in these tests is an
/// integer far below 2^24, so f32 arithmetic is exact in any summation order.
fn small_ints(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-3i32..=3) as f32).collect()
}

fn random_geometry(rng: &mut StdRng) -> Conv2dGeometry {
    // Sizes include 1, primes and odd values; kernels may exceed the image (pad makes it fit
    // or the output is empty).
    let pick = |rng: &mut StdRng, opts: &[usize]| opts[rng.gen_range(0..opts.len())];
    Conv2dGeometry {
        n: pick(rng, &[1, 2, 3]),
        c_in: pick(rng, &[1, 2, 3, 5]),
        h: pick(rng, &[1, 2, 3, 5, 7, 8, 11, 15]),
        w: pick(rng, &[1, 2, 3, 4, 7, 9, 13, 17]),
        c_out: pick(rng, &[1, 2, 4, 7]),
        kh: pick(rng, &[1, 2, 3, 5]),
        kw: pick(rng, &[1, 2, 3, 4]),
        stride: rng.gen_range(1..=3),
        pad: rng.gen_range(0..=2),
    }
}

/// Exact equality with a message naming the case and the first differing index.
fn assert_exact(actual: &[f32], expected: &[f32], what: &str, case: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: length, {case}");
    if let Some(i) = (0..actual.len()).find(|&i| actual[i] != expected[i]) {
        panic!(
            "{what} differs at {i}: {} vs {} ({case})",
            actual[i], expected[i]
        );
    }
}

#[test]
fn conv2d_fast_matches_reference_exactly_on_small_integers_random_geometries() {
    let mut rng = StdRng::seed_from_u64(0xC0_4E);
    for case_no in 0..400 {
        let g = random_geometry(&mut rng);
        let case = format!("case {case_no}: {g:?}");
        let x = small_ints(&mut rng, g.input_len());
        let wt = small_ints(&mut rng, g.weight_len());
        let bias = small_ints(&mut rng, g.c_out);
        let dy = small_ints(&mut rng, g.output_len());
        let use_bias = case_no % 2 == 0;
        let b = use_bias.then_some(bias.as_slice());

        let start_dx = small_ints(&mut rng, g.input_len());
        let start_dw = small_ints(&mut rng, g.weight_len());
        for engine in ENGINES {
            let ecase = format!("{case}, {engine:?}");
            // NaN canary: the forward overwrites every element.
            let mut y_fast = vec![f32::NAN; g.output_len()];
            let mut y_ref = vec![0.0; g.output_len()];
            conv2d_forward_with(engine, &g, &x, &wt, b, &mut y_fast);
            conv2d_forward_reference(&g, &x, &wt, b, &mut y_ref);
            assert_exact(&y_fast, &y_ref, "forward", &ecase);

            // Backward products accumulate: start both from the same nonzero buffer.
            let start_dx = start_dx.clone();
            let (mut dx_fast, mut dx_ref) = (start_dx.clone(), start_dx);
            conv2d_backward_input_with(engine, &g, &dy, &wt, &mut dx_fast);
            conv2d_backward_input_reference(&g, &dy, &wt, &mut dx_ref);
            assert_exact(&dx_fast, &dx_ref, "backward_input", &ecase);

            let start_dw = start_dw.clone();
            let (mut dw_fast, mut dw_ref) = (start_dw.clone(), start_dw);
            conv2d_backward_weight_with(engine, &g, &x, &dy, &mut dw_fast);
            conv2d_backward_weight_reference(&g, &x, &dy, &mut dw_ref);
            assert_exact(&dw_fast, &dw_ref, "backward_weight", &ecase);
        }
    }
}

#[test]
fn conv2d_fast_matches_reference_on_uniform_inputs_enn_and_mnist_shapes() {
    let mut rng = StdRng::seed_from_u64(7);
    let shapes = [
        (1, 1, 15, 117, 16),
        (1, 16, 7, 58, 32),
        (2, 1, 28, 28, 16),
        (2, 16, 14, 14, 32),
    ];
    for (n, c_in, h, w, c_out) in shapes {
        let g = Conv2dGeometry {
            n,
            c_in,
            h,
            w,
            c_out,
            kh: 3,
            kw: 3,
            stride: 1,
            pad: 1,
        };
        let x = uniform(&mut rng, g.input_len());
        let wt = uniform(&mut rng, g.weight_len());
        let bias = uniform(&mut rng, c_out);
        let dy = uniform(&mut rng, g.output_len());
        for engine in ENGINES {
            let mut y = vec![f32::NAN; g.output_len()];
            let mut y_ref = vec![0.0; g.output_len()];
            conv2d_forward_with(engine, &g, &x, &wt, Some(&bias), &mut y);
            conv2d_forward_reference(&g, &x, &wt, Some(&bias), &mut y_ref);
            // The reference sums in f64; f32 sums of at most 144 terms of size < 1 (forward and
            // input gradient) or 2*28*28 terms (weight gradient) lose at most ~k * 2^-24 * sum|t|,
            // below 1e-4 absolute for forward / input and 1e-3 for the weight gradient.
            assert_close(&y, &y_ref, 1e-5, 1e-4, "forward");
            let mut dx = vec![0.0; g.input_len()];
            let mut dx_ref = vec![0.0; g.input_len()];
            conv2d_backward_input_with(engine, &g, &dy, &wt, &mut dx);
            conv2d_backward_input_reference(&g, &dy, &wt, &mut dx_ref);
            assert_close(&dx, &dx_ref, 1e-5, 1e-4, "backward_input");
            let mut dw = vec![0.0; g.weight_len()];
            let mut dw_ref = vec![0.0; g.weight_len()];
            conv2d_backward_weight_with(engine, &g, &x, &dy, &mut dw);
            conv2d_backward_weight_reference(&g, &x, &dy, &mut dw_ref);
            assert_close(&dw, &dw_ref, 1e-5, 1e-3, "backward_weight");
        }
    }
}

/// `<conv(x), y> = <x, conv_backward_input(y)>`: the input gradient is the adjoint of the
/// (bias-free) forward map, and `<dW, w> = <conv_w(x), y>` for the weight gradient.
#[test]
fn conv2d_backward_products_are_adjoints_of_forward() {
    let mut rng = StdRng::seed_from_u64(0xAD_01);
    for _ in 0..100 {
        let g = random_geometry(&mut rng);
        let x = uniform(&mut rng, g.input_len());
        let wt = uniform(&mut rng, g.weight_len());
        let y = uniform(&mut rng, g.output_len());
        let mut cx = vec![0.0; g.output_len()];
        conv2d_forward(&g, &x, &wt, None, &mut cx);
        let mut cty = vec![0.0; g.input_len()];
        conv2d_backward_input(&g, &y, &wt, &mut cty);
        let mut dw = vec![0.0; g.weight_len()];
        conv2d_backward_weight(&g, &x, &y, &mut dw);
        let dot = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(&p, &q)| p as f64 * q as f64)
                .sum::<f64>()
        };
        let scale = |a: &[f32], b: &[f32]| {
            a.iter()
                .zip(b)
                .map(|(&p, &q)| (p as f64 * q as f64).abs())
                .sum::<f64>()
        };
        let lhs = dot(&cx, &y);
        // Each side is a sum of the same products in different f32 orders; the difference is
        // bounded by a few ulps of the absolute sum (products < 1, at most ~10^4 terms).
        let tol = 1e-5 * (1.0 + scale(&cx, &y));
        assert!((lhs - dot(&x, &cty)).abs() <= tol, "input adjoint {g:?}");
        assert!((lhs - dot(&wt, &dw)).abs() <= tol, "weight adjoint {g:?}");
    }
}

#[test]
fn col2im_is_adjoint_of_im2col() {
    let mut rng = StdRng::seed_from_u64(11);
    for _ in 0..100 {
        let g = Conv2dGeometry {
            n: 1,
            ..random_geometry(&mut rng)
        };
        let k_p = g.col_rows() * g.out_h() * g.out_w();
        let x = small_ints(&mut rng, g.input_len());
        let c = small_ints(&mut rng, k_p);
        let mut col = vec![f32::NAN; k_p];
        im2col(&g, &x, &mut col);
        assert!(col.iter().all(|v| v.is_finite()), "im2col left a NaN {g:?}");
        let mut back = vec![0.0; g.input_len()];
        col2im_add(&g, &c, &mut back);
        // Small integers: both inner products are exact.
        let lhs: f32 = col.iter().zip(&c).map(|(a, b)| a * b).sum();
        let rhs: f32 = x.iter().zip(&back).map(|(a, b)| a * b).sum();
        assert_eq!(lhs, rhs, "{g:?}");
    }
}

#[test]
fn conv2d_hand_worked_3x3_identity_and_sum_filters() {
    // x = 1..9 as a 3x3 image; a 3x3 all-ones filter with pad 1 gives the sum of each
    // pixel's neighbourhood (worked by hand), plus bias 0.5.
    let g = Conv2dGeometry {
        n: 1,
        c_in: 1,
        h: 3,
        w: 3,
        c_out: 1,
        kh: 3,
        kw: 3,
        stride: 1,
        pad: 1,
    };
    let x: Vec<f32> = (1..=9).map(|v| v as f32).collect();
    let mut y = vec![0.0; 9];
    conv2d_forward(&g, &x, &[1.0; 9], Some(&[0.5]), &mut y);
    let expected = [12.0, 21.0, 16.0, 27.0, 45.0, 33.0, 24.0, 39.0, 28.0].map(|v| v + 0.5);
    assert_eq!(y, expected);
    let mut db = [1.0f32];
    conv2d_backward_bias(&g, &[1.0; 9], &mut db);
    assert_eq!(db, [10.0]);
}
