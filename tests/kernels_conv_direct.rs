//! The direct stride-1 conv kernels (`kernels::conv_direct`) on every ISA this CPU supports,
//! called directly with the rounding of the im2col product they stand in for: bit-equal to
//! it (`ConvGemm::Im2col`) on the ENN's and the benchmarks' shapes and on seeded random
//! geometries, whether or not `ConvGemm::Auto` routes there; the routed `Auto` likewise; and
//! close to the by-definition references with every rounding. The weight gradient likewise,
//! with the reduction chunk of the packed product it stands in for.

mod common;

use common::{assert_close, uniform};
use grad_instructor::kernels::conv::{
    conv2d_backward_input_on, conv2d_backward_input_reference, conv2d_backward_weight_on,
    conv2d_backward_weight_reference, conv2d_forward_on, conv2d_forward_reference,
    direct_backward_input_rounding, direct_backward_weight_rounding, direct_forward_rounding,
    Conv2dGeometry, ConvGemm,
};
use grad_instructor::kernels::conv_direct::{
    conv2d_backward_input_direct_with, conv2d_backward_weight_direct_with,
    conv2d_forward_direct_with, Rounding,
};
use grad_instructor::kernels::isa;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn geometry(n: usize, c_in: usize, h: usize, w: usize, c_out: usize) -> Conv2dGeometry {
    Conv2dGeometry {
        n,
        c_in,
        h,
        w,
        c_out,
        kh: 3,
        kw: 3,
        stride: 1,
        pad: 1,
    }
}

/// The ENN's two convolutions and the MNIST CNN's two (batch 2).
fn named_shapes() -> Vec<Conv2dGeometry> {
    vec![
        geometry(1, 1, 15, 117, 16),
        geometry(1, 16, 7, 58, 32),
        geometry(2, 1, 28, 28, 16),
        geometry(2, 16, 14, 14, 32),
    ]
}

/// Stride-1 geometries: sizes 1, primes, and around the tile widths (8, 24, 32, 128
/// positions; 4 and 8 channels); kernels up to 5, pads up to 3 (beyond the kernel too).
fn random_geometry(rng: &mut StdRng) -> Conv2dGeometry {
    let pick = |rng: &mut StdRng, opts: &[usize]| opts[rng.gen_range(0..opts.len())];
    loop {
        let g = Conv2dGeometry {
            n: pick(rng, &[1, 2, 3]),
            c_in: pick(rng, &[1, 2, 3, 4, 5, 7, 8, 9, 16, 17]),
            h: pick(rng, &[1, 2, 3, 5, 7, 8, 13]),
            w: pick(rng, &[1, 2, 3, 5, 7, 8, 9, 15, 16, 17, 23, 31, 33, 58]),
            c_out: pick(rng, &[1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 32, 33]),
            kh: pick(rng, &[1, 2, 3, 5]),
            kw: pick(rng, &[1, 2, 3, 4, 5]),
            stride: 1,
            pad: rng.gen_range(0..=3),
        };
        if g.output_len() > 0 {
            return g;
        }
    }
}

fn assert_bits(actual: &[f32], expected: &[f32], what: &str) {
    assert_eq!(actual.len(), expected.len(), "{what}: lengths");
    if let Some(i) = (0..actual.len()).find(|&i| actual[i].to_bits() != expected[i].to_bits()) {
        panic!(
            "{what}: bits differ at [{i}]: {:e} vs {:e}",
            actual[i], expected[i]
        );
    }
}

/// The weight gradient onto a nonzero start: `Auto` and (where the im2col path is packed
/// sgemm) the direct kernel with its chunk, against `Im2col`, bit for bit, on every ISA.
/// Returns whether the direct kernel was called.
fn check_weight_bit_equal(g: &Conv2dGeometry, rng: &mut StdRng, what: &str) -> bool {
    let x = uniform(rng, g.input_len());
    let dy = uniform(rng, g.output_len());
    let dw0 = uniform(rng, g.weight_len());
    let mut used = false;
    for isa in isa::supported() {
        let what = format!("weight gradient {what} isa {} {g:?}", isa.name());
        let mut dw_im2col = dw0.clone();
        conv2d_backward_weight_on(isa, ConvGemm::Im2col, g, &x, &dy, &mut dw_im2col);
        let mut dw_auto = dw0.clone();
        conv2d_backward_weight_on(isa, ConvGemm::Auto, g, &x, &dy, &mut dw_auto);
        assert_bits(&dw_auto, &dw_im2col, &format!("Auto {what}"));
        if let Some(chunk) = direct_backward_weight_rounding(isa, g) {
            used = true;
            let mut dw = dw0.clone();
            conv2d_backward_weight_direct_with(isa, chunk, g, &x, &dy, &mut dw);
            assert_bits(&dw, &dw_im2col, &format!("direct chunk {chunk} {what}"));
        }
    }
    used
}

#[test]
fn direct_weight_gradient_is_bit_identical_to_im2col_every_isa() {
    let mut rng = StdRng::seed_from_u64(0xD1_2ECA);
    // The 16-channel shapes take packed sgemm in im2col (the 1-channel ones its acc_nt tiles).
    for g in named_shapes().into_iter().filter(|g| g.c_in == 16) {
        assert!(
            check_weight_bit_equal(&g, &mut rng, "named"),
            "unused: {g:?}"
        );
    }
    // Larger images, so that the pixel reduction is cut into several chunks somewhere.
    for g in [geometry(2, 16, 28, 28, 32), geometry(1, 16, 15, 117, 9)] {
        assert!(
            check_weight_bit_equal(&g, &mut rng, "large"),
            "unused: {g:?}"
        );
    }
    let mut used = 0;
    for case in 0..300 {
        let g = random_geometry(&mut rng);
        used += check_weight_bit_equal(&g, &mut rng, &format!("case {case}")) as usize;
    }
    assert!(used > 100, "direct weight gradient used in {used} of 300");
}

#[test]
fn direct_weight_gradient_any_chunk_matches_reference_every_isa() {
    let mut rng = StdRng::seed_from_u64(0xD1_2ECB);
    for case in 0..150 {
        let g = random_geometry(&mut rng);
        let x = uniform(&mut rng, g.input_len());
        let dy = uniform(&mut rng, g.output_len());
        let dw0 = uniform(&mut rng, g.weight_len());
        let mut dw_ref = dw0.clone();
        conv2d_backward_weight_reference(&g, &x, &dy, &mut dw_ref);
        // Sums of at most 13·60 = 780 products below 1 in magnitude: ~1e-4 in practice.
        for isa in isa::supported() {
            for chunk in [1, 7, 64, 1 << 20] {
                let what = format!("case {case} isa {} chunk {chunk} {g:?}", isa.name());
                let mut dw = dw0.clone();
                conv2d_backward_weight_direct_with(isa, chunk, &g, &x, &dy, &mut dw);
                assert_close(&dw, &dw_ref, 1e-3, 1e-4, &format!("weight gradient {what}"));
            }
        }
    }
}

/// `Auto` (the direct kernel where a rounding is returned) against `Im2col`, bit for bit,
/// forward with and without bias and the input gradient onto a nonzero start.
fn check_bit_equal(g: &Conv2dGeometry, rng: &mut StdRng, what: &str) -> (bool, bool) {
    let x = uniform(rng, g.input_len());
    let wt = uniform(rng, g.weight_len());
    let bias = uniform(rng, g.c_out);
    let dy = uniform(rng, g.output_len());
    let dx0 = uniform(rng, g.input_len());
    let mut used = (false, false);
    for isa in isa::supported() {
        let case = format!("{what} isa {} {g:?}", isa.name());
        used.0 |= direct_forward_rounding(isa, g).is_some();
        used.1 |= direct_backward_input_rounding(isa, g).is_some();
        for b in [Some(bias.as_slice()), None] {
            let what = format!("forward {case}, bias {}", b.is_some());
            let mut y_im2col = vec![f32::NAN; g.output_len()];
            conv2d_forward_on(isa, ConvGemm::Im2col, g, &x, &wt, b, &mut y_im2col);
            let mut y_auto = vec![f32::NAN; g.output_len()];
            conv2d_forward_on(isa, ConvGemm::Auto, g, &x, &wt, b, &mut y_auto);
            assert_bits(&y_auto, &y_im2col, &format!("Auto {what}"));
            if let Some(rounding) = direct_forward_rounding(isa, g) {
                let mut y = vec![f32::NAN; g.output_len()];
                conv2d_forward_direct_with(isa, rounding, g, &x, &wt, b, &mut y);
                assert_bits(&y, &y_im2col, &format!("direct {rounding:?} {what}"));
            }
        }
        let what = format!("backward input {case}");
        let mut dx_im2col = dx0.clone();
        conv2d_backward_input_on(isa, ConvGemm::Im2col, g, &dy, &wt, &mut dx_im2col);
        let mut dx_auto = dx0.clone();
        conv2d_backward_input_on(isa, ConvGemm::Auto, g, &dy, &wt, &mut dx_auto);
        assert_bits(&dx_auto, &dx_im2col, &format!("Auto {what}"));
        if let Some(rounding) = direct_backward_input_rounding(isa, g) {
            let mut dx = dx0.clone();
            conv2d_backward_input_direct_with(isa, rounding, g, &dy, &wt, &mut dx);
            assert_bits(&dx, &dx_im2col, &format!("direct {rounding:?} {what}"));
        }
    }
    used
}

#[test]
fn direct_conv_is_bit_identical_to_im2col_on_enn_and_benchmark_shapes_every_isa() {
    let mut rng = StdRng::seed_from_u64(0xD1_2EC7);
    for g in named_shapes() {
        let used = check_bit_equal(&g, &mut rng, "named");
        // Not vacuous: every one of these has a direct rounding on some ISA here.
        assert_eq!(used, (true, true), "no direct rounding for {g:?}");
    }
}

#[test]
fn direct_conv_is_bit_identical_to_im2col_random_geometries_every_isa() {
    let mut rng = StdRng::seed_from_u64(0xD1_2EC8);
    let mut used = (0, 0);
    for case in 0..300 {
        let g = random_geometry(&mut rng);
        let u = check_bit_equal(&g, &mut rng, &format!("case {case}"));
        used.0 += u.0 as usize;
        used.1 += u.1 as usize;
    }
    // Most random geometries route to the direct kernels (pointwise ones and a few K
    // chunkings do not).
    assert!(
        used.0 > 200 && used.1 > 200,
        "direct kernels used {used:?} of 300"
    );
}

#[test]
fn direct_conv_every_rounding_matches_reference_every_isa() {
    let mut rng = StdRng::seed_from_u64(0xD1_2EC9);
    for case in 0..150 {
        let g = random_geometry(&mut rng);
        let x = uniform(&mut rng, g.input_len());
        let wt = uniform(&mut rng, g.weight_len());
        let bias = uniform(&mut rng, g.c_out);
        let dy = uniform(&mut rng, g.output_len());
        let dx0 = uniform(&mut rng, g.input_len());
        let mut y_ref = vec![0.0; g.output_len()];
        conv2d_forward_reference(&g, &x, &wt, Some(&bias), &mut y_ref);
        let mut dx_ref = dx0.clone();
        conv2d_backward_input_reference(&g, &dy, &wt, &mut dx_ref);
        // Sums of at most 17·25 = 425 (forward) or 33·25 (input gradient) terms below 1 in
        // magnitude: f32 error below ~k·2^-24·k ≈ 1e-2 worst case, 1e-4 in practice.
        for isa in isa::supported() {
            for rounding in [Rounding::Packed, Rounding::Tiles, Rounding::Unfused] {
                let what = format!("case {case} isa {} {rounding:?} {g:?}", isa.name());
                let mut y = vec![f32::NAN; g.output_len()];
                conv2d_forward_direct_with(isa, rounding, &g, &x, &wt, Some(&bias), &mut y);
                assert_close(&y, &y_ref, 1e-4, 1e-4, &format!("forward {what}"));
                let mut dx = dx0.clone();
                conv2d_backward_input_direct_with(isa, rounding, &g, &dy, &wt, &mut dx);
                assert_close(&dx, &dx_ref, 1e-4, 1e-4, &format!("backward input {what}"));
            }
        }
    }
}
