//! Pooling and resize kernels: hand-worked values, PyTorch golden values, adjoint identities,
//! and the fast bilinear path against its reference.

// Golden numbers are pasted verbatim from PyTorch output (9 significant digits).
#![allow(clippy::excessive_precision)]

mod common;

use common::{assert_close, uniform};
use grad_instructor::kernels::pool::{
    avg_pool2d_backward, avg_pool2d_forward, global_avg_pool_backward, global_avg_pool_forward,
    global_avg_pool_forward_reference, global_avg_pool_relu_forward, max_pool2d_backward,
    max_pool2d_forward, max_pool2d_forward_reference, max_pool2d_relu_forward, Pool2dGeometry,
};
use grad_instructor::kernels::resize::{
    resize, resize_adjoint, resize_bilinear, resize_bilinear_adjoint,
    resize_bilinear_adjoint_block, resize_bilinear_adjoint_reference, resize_bilinear_reference,
    BilinearFootprint, ResizeGeometry, ResizeMode,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const MODES: [ResizeMode; 3] = [ResizeMode::Bilinear, ResizeMode::Nearest, ResizeMode::Area];

fn dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter().zip(b).map(|(&p, &q)| p as f64 * q as f64).sum()
}

fn abs_dot(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&p, &q)| (p as f64 * q as f64).abs())
        .sum()
}

fn forward(mode: ResizeMode, g: &ResizeGeometry, x: &[f32]) -> Vec<f32> {
    let mut y = vec![f32::NAN; g.output_len()];
    resize(mode, g, x, &mut y);
    y
}

// ----------------------------------------------------------------------------- resize values

#[test]
fn resize_bilinear_downscale_by_half_averages_pairs() {
    // Worked by hand: at scale 0.5 output d reads r = (d + 0.5) * 2 - 0.5 = 2d + 0.5, the
    // midpoint of pixels 2d and 2d+1, so [0, 1, 2, 3] -> [0.5, 2.5].
    let g = ResizeGeometry::by_size(1, 1, 4, 1, 2);
    assert_eq!(
        forward(ResizeMode::Bilinear, &g, &[0.0, 1.0, 2.0, 3.0]),
        [0.5, 2.5]
    );
    // 4x4 arange by scale 0.5: rows (0,1) and (2,3) average, then columns likewise.
    let g = ResizeGeometry::by_scale(1, 4, 4, 0.5);
    let x: Vec<f32> = (0..16).map(|v| v as f32).collect();
    assert_eq!(
        forward(ResizeMode::Bilinear, &g, &x),
        [2.5, 4.5, 10.5, 12.5]
    );
}

#[test]
fn resize_matches_pytorch_golden_values_small() {
    // Golden numbers from PyTorch 2.15 `F.interpolate` (align_corners=False for bilinear),
    // printed by a throwaway script on this machine; all are exact in f32 or quoted to 9
    // digits, hence the 1e-6 tolerance (a few ulps at magnitudes <= 14).
    let up = ResizeGeometry::by_scale(1, 2, 2, 2.0);
    assert_eq!(
        forward(ResizeMode::Bilinear, &up, &[0.0, 1.0, 2.0, 3.0]),
        [0.0, 0.25, 0.75, 1.0, 0.5, 0.75, 1.25, 1.5, 1.5, 1.75, 2.25, 2.5, 2.0, 2.25, 2.75, 3.0]
    );
    let x: Vec<f32> = (0..15).map(|v| v as f32).collect(); // 3x5 arange
    let g = ResizeGeometry::by_scale(1, 3, 5, 0.7);
    assert_eq!((g.out_h, g.out_w), (2, 3));
    assert_eq!(
        forward(ResizeMode::Nearest, &g, &x),
        [0.0, 1.0, 2.0, 5.0, 6.0, 7.0]
    );
    let g = ResizeGeometry::by_size(1, 3, 5, 4, 7);
    assert_eq!(
        forward(ResizeMode::Nearest, &g, &x),
        [
            0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 0.0, 0.0, 1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 6.0,
            7.0, 7.0, 8.0, 9.0, 10.0, 10.0, 11.0, 12.0, 12.0, 13.0, 14.0
        ]
    );
    assert_close(
        &forward(ResizeMode::Bilinear, &g, &x),
        &[
            0.0,
            0.571428597,
            1.285714388,
            2.0,
            2.714285851,
            3.428571463,
            4.0,
            3.125,
            3.696428776,
            4.410714149,
            5.125,
            5.839285851,
            6.553571701,
            7.125,
            6.875,
            7.446428299,
            8.160714149,
            8.875,
            9.589285851,
            10.303570747,
            10.875,
            10.0,
            10.571428299,
            11.285714149,
            12.0,
            12.714285851,
            13.428571701,
            14.0,
        ],
        0.0,
        1e-6,
        "bilinear 3x5 -> 4x7",
    );
    // Area 3x5 -> 2x3: row windows [0,2), [1,3); column windows [0,2), [1,4), [3,5)
    // (floor(d*in/out), ceil((d+1)*in/out)); e.g. the first output is mean(0,1,5,6) = 3.
    let g = ResizeGeometry::by_size(1, 3, 5, 2, 3);
    assert_eq!(
        forward(ResizeMode::Area, &g, &x),
        [3.0, 4.5, 6.0, 8.0, 9.5, 11.0]
    );
}

/// The ENN's weight image: 100 x 784 scaled by 0.15 gives 15 x 117 (floor(100*0.15) = 15,
/// floor(784*0.15) = floor(117.6) = 117). Input x[i,j] = (31i + 17j) mod 101 (exact small
/// integers); dy[a,b] = ((7a + 3b) mod 11) - 5. Golden values from PyTorch 2.15:
/// `F.interpolate(x, scale_factor=0.15, mode=...)` and `autograd.grad((y*dy).sum(), x)`.
#[test]
fn resize_enn_weight_image_matches_pytorch_golden_values() {
    let g = ResizeGeometry::by_scale(1, 100, 784, 0.15);
    assert_eq!((g.out_h, g.out_w), (15, 117));
    let x: Vec<f32> = (0..100 * 784)
        .map(|k| ((31 * (k / 784) + 17 * (k % 784)) % 101) as f32)
        .collect();
    let dy: Vec<f32> = (0..15 * 117)
        .map(|k| ((7 * (k / 117) + 3 * (k % 117)) % 11) as f32 - 5.0)
        .collect();
    // (mode, y at (0,0), (7,58), (14,116), (3,100), sum y, [(row, col, dx)], sum dx, sum dx^2)
    type Golden = (
        ResizeMode,
        [f32; 4],
        f64,
        [(usize, usize, f32); 4],
        f64,
        f64,
    );
    let golden: [Golden; 3] = [
        (
            ResizeMode::Bilinear,
            [37.805553436, 76.0, 15.999229431, 70.333297729],
            88129.19397544861,
            [
                (2, 2, -0.138889015),
                (2, 17, 0.027777685),
                (2, 369, -0.416666865),
                (97, 777, 0.027770571),
            ],
            -0.9999988805502653,
            7373.327838811694,
        ),
        (
            ResizeMode::Nearest,
            [0.0, 9.0, 66.0, 24.0],
            87406.0,
            [(0, 0, -5.0), (0, 33, -1.0), (0, 733, -5.0), (93, 773, 1.0)],
            -1.0,
            17553.0,
        ),
        (
            ResizeMode::Area,
            [49.183673859, 51.609375, 49.204078674, 50.489795685],
            87748.12788391113,
            [
                (0, 0, -0.10204082),
                (0, 5, -0.10204082),
                (0, 107, -0.091836736),
                (99, 783, 0.020408165),
            ],
            -1.0000004433095455,
            276.3850582381524,
        ),
    ];
    for (mode, ys, y_sum, dxs, dx_sum, dx_sq) in golden {
        let y = forward(mode, &g, &x);
        let at = |a: usize, b: usize| y[a * 117 + b];
        // Outputs are weighted means of integers <= 100: f32 rounding (ours and PyTorch's,
        // whose coordinate arithmetic is f32 where ours is f64) stays below 1e-4 absolute.
        assert_close(
            &[at(0, 0), at(7, 58), at(14, 116), at(3, 100)],
            &ys,
            0.0,
            1e-4,
            "y",
        );
        let sum: f64 = y.iter().map(|&v| v as f64).sum();
        // 1755 outputs, each within ~1e-5 of PyTorch's.
        assert!((sum - y_sum).abs() < 0.05, "{mode:?}: sum {sum} vs {y_sum}");
        let mut dx = vec![0.0f32; g.input_len()];
        resize_adjoint(mode, &g, &dy, &mut dx);
        let got: Vec<f32> = dxs.iter().map(|&(r, c, _)| dx[r * 784 + c]).collect();
        let want: Vec<f32> = dxs.iter().map(|&(_, _, v)| v).collect();
        // Gradients are sums of at most a few weights times |dy| <= 5: 1e-5 absolute.
        assert_close(&got, &want, 0.0, 1e-5, "dx");
        let s: f64 = dx.iter().map(|&v| v as f64).sum();
        let sq: f64 = dx.iter().map(|&v| v as f64 * v as f64).sum();
        assert!(
            (s - dx_sum).abs() < 1e-3,
            "{mode:?}: sum dx {s} vs {dx_sum}"
        );
        assert!(
            (sq - dx_sq).abs() < 1e-3 * dx_sq,
            "{mode:?}: sum dx^2 {sq} vs {dx_sq}"
        );
    }
}

fn random_resize_geometry(rng: &mut StdRng) -> ResizeGeometry {
    let planes = rng.gen_range(1..=3);
    let in_h = rng.gen_range(1..=13);
    let in_w = rng.gen_range(1..=29);
    if rng.gen_bool(0.5) {
        let scale = [0.15, 0.25, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0][rng.gen_range(0..8)];
        ResizeGeometry::by_scale(planes, in_h, in_w, scale)
    } else {
        ResizeGeometry::by_size(
            planes,
            in_h,
            in_w,
            rng.gen_range(1..=17),
            rng.gen_range(1..=31),
        )
    }
}

#[test]
fn resize_adjoint_identity_holds_for_all_modes_random_geometries() {
    let mut rng = StdRng::seed_from_u64(0x5E_51);
    for case in 0..300 {
        let g = random_resize_geometry(&mut rng);
        if g.output_len() == 0 {
            continue;
        }
        let x = uniform(&mut rng, g.input_len());
        let y = uniform(&mut rng, g.output_len());
        for mode in MODES {
            let rx = forward(mode, &g, &x);
            let mut rty = vec![0.0; g.input_len()];
            resize_adjoint(mode, &g, &y, &mut rty);
            let (lhs, rhs) = (dot(&rx, &y), dot(&x, &rty));
            // Same products summed in different f32 orders, each output a mix of at most
            // ~50 inputs: a relative 1e-5 of the absolute sum bounds the difference.
            let tol = 1e-5 * (1.0 + abs_dot(&rx, &y));
            assert!(
                (lhs - rhs).abs() <= tol,
                "case {case} {mode:?} {g:?}: {lhs} vs {rhs}"
            );
        }
    }
}

#[test]
fn resize_bilinear_fast_is_bit_identical_to_reference() {
    let mut rng = StdRng::seed_from_u64(0xB1);
    for _ in 0..200 {
        let g = random_resize_geometry(&mut rng);
        let x = uniform(&mut rng, g.input_len());
        let mut fast = vec![f32::NAN; g.output_len()];
        let mut reference = vec![0.0; g.output_len()];
        resize_bilinear(&g, &x, &mut fast);
        resize_bilinear_reference(&g, &x, &mut reference);
        assert_eq!(fast, reference, "{g:?}");
        let dy = uniform(&mut rng, g.output_len());
        let start = uniform(&mut rng, g.input_len());
        let (mut a, mut b) = (start.clone(), start);
        resize_bilinear_adjoint(&g, &dy, &mut a);
        resize_bilinear_adjoint_reference(&g, &dy, &mut b);
        assert_eq!(a, b, "{g:?}");
    }
}

/// The block adjoint scattered back into a zero matrix equals the dense reference adjoint bit
/// for bit: the reference writes nothing outside `rows × cols`, and every block entry gets the
/// same terms in the same order. Starting blocks are random (the kernel accumulates).
#[test]
fn resize_bilinear_block_adjoint_is_the_dense_adjoint_on_its_footprint() {
    let mut rng = StdRng::seed_from_u64(0xB10C);
    for _ in 0..300 {
        let g = random_resize_geometry(&mut rng);
        let fp = BilinearFootprint::of(&g);
        let (rows, cols) = (fp.rows(), fp.cols());
        assert!(rows.windows(2).all(|p| p[0] < p[1]) && cols.windows(2).all(|p| p[0] < p[1]));
        assert!(rows.iter().all(|&r| r < g.in_h) && cols.iter().all(|&c| c < g.in_w));
        let dy = uniform(&mut rng, g.output_len());
        let mut dense = vec![0.0; g.input_len()];
        resize_bilinear_adjoint_reference(&g, &dy, &mut dense);
        let start = uniform(&mut rng, g.planes * fp.block_len());
        let mut block = start.clone();
        resize_bilinear_adjoint_block(&g, &fp, &dy, &mut block);
        // The reference from the same start: scatter `start` into the block's positions.
        let mut expected = vec![0.0; g.input_len()];
        let mut from_start = vec![0.0; g.input_len()];
        let mut b = 0;
        for p in 0..g.planes {
            for &r in rows {
                for &c in cols {
                    let i = (p * g.in_h + r) * g.in_w + c;
                    from_start[i] = start[b];
                    expected[i] = block[b];
                    b += 1;
                }
            }
        }
        resize_bilinear_adjoint_reference(&g, &dy, &mut from_start);
        assert_eq!(expected, from_start, "{g:?}");
        // Outside the footprint the dense adjoint is exactly +0 (it wrote nothing there).
        for (i, &v) in dense.iter().enumerate() {
            let (r, c) = ((i / g.in_w) % g.in_h, i % g.in_w);
            if !(rows.contains(&r) && cols.contains(&c)) {
                assert_eq!(v.to_bits(), 0, "{g:?} entry {i}");
            }
        }
    }
}

#[test]
fn bilinear_footprint_of_the_mnist_w1_image_is_30_rows_by_234_columns() {
    // 100 × 784 at scale 0.15 → 15 × 117: two distinct row taps per output row and two
    // distinct column taps per output column, 9 % of W1.
    let fp = BilinearFootprint::of(&ResizeGeometry::by_scale(1, 100, 784, 0.15));
    assert_eq!((fp.rows().len(), fp.cols().len()), (30, 234));
    assert_eq!(fp.block_len(), 7020);
}

#[test]
fn resize_identity_size_is_identity_in_every_mode() {
    let mut rng = StdRng::seed_from_u64(3);
    let g = ResizeGeometry::by_size(2, 5, 7, 5, 7);
    let x = uniform(&mut rng, g.input_len());
    for mode in MODES {
        assert_eq!(forward(mode, &g, &x), x, "{mode:?}");
    }
}

// ----------------------------------------------------------------------------------- pooling

fn random_pool_geometry(rng: &mut StdRng) -> Pool2dGeometry {
    Pool2dGeometry {
        planes: rng.gen_range(1..=4),
        h: rng.gen_range(1..=13),
        w: rng.gen_range(1..=17),
        k: rng.gen_range(1..=4),
        stride: rng.gen_range(1..=3),
    }
}

#[test]
fn max_pool_hand_worked_2x2_stride_2() {
    // 4x4 map, 2x2 windows: maxima and their in-plane flat indices, by hand.
    let g = Pool2dGeometry {
        planes: 1,
        h: 4,
        w: 4,
        k: 2,
        stride: 2,
    };
    let x = [
        1.0, 5.0, 2.0, 2.0, //
        3.0, 4.0, 9.0, 0.0, //
        -1.0, -2.0, 7.0, 8.0, //
        -3.0, -0.5, 8.0, 6.0,
    ];
    let mut y = [f32::NAN; 4];
    let mut arg = [u32::MAX; 4];
    max_pool2d_forward(&g, &x, &mut y, &mut arg);
    assert_eq!(y, [5.0, 9.0, -0.5, 8.0]);
    // Ties go to the first in row-major order: the 8.0 at index 11 beats the one at 14.
    assert_eq!(arg, [1, 6, 13, 11]);
    let mut dx = [1.0f32; 16];
    max_pool2d_backward(&g, &[10.0, 20.0, 30.0, 40.0], &arg, &mut dx);
    let mut expected = [1.0f32; 16];
    expected[1] = 11.0;
    expected[6] = 21.0;
    expected[13] = 31.0;
    expected[11] = 41.0;
    assert_eq!(dx, expected);
}

#[test]
fn max_pool_matches_window_maximum_and_routes_gradient_to_argmax_random_geometries() {
    let mut rng = StdRng::seed_from_u64(0x9001);
    for _ in 0..200 {
        let g = random_pool_geometry(&mut rng);
        let x = uniform(&mut rng, g.input_len());
        let mut y = vec![f32::NAN; g.output_len()];
        let mut arg = vec![u32::MAX; g.output_len()];
        max_pool2d_forward(&g, &x, &mut y, &mut arg);
        let (oh, ow) = (g.out_h(), g.out_w());
        let mut routed = vec![0.0f32; g.input_len()];
        let mut expected_routed = vec![0.0f32; g.input_len()];
        let dy = uniform(&mut rng, g.output_len());
        for p in 0..g.planes {
            for i in 0..oh {
                for j in 0..ow {
                    let o = (p * oh + i) * ow + j;
                    let window = (0..g.k).flat_map(|u| {
                        (0..g.k).map(move |v| (i * g.stride + u) * g.w + j * g.stride + v)
                    });
                    let max = window
                        .clone()
                        .map(|idx| x[p * g.h * g.w + idx])
                        .fold(f32::NEG_INFINITY, f32::max);
                    assert_eq!(y[o], max, "{g:?}");
                    let a = arg[o] as usize;
                    assert!(window.clone().any(|idx| idx == a), "argmax outside window");
                    assert_eq!(x[p * g.h * g.w + a], max);
                    expected_routed[p * g.h * g.w + a] += dy[o];
                }
            }
        }
        max_pool2d_backward(&g, &dy, &arg, &mut routed);
        assert_eq!(routed, expected_routed, "{g:?}");
    }
}

#[test]
fn max_pool_2x2_fast_path_is_bit_identical_to_reference_with_ties_and_nans() {
    // Values from a small set make ties common; NaN, ±0 and ±∞ exercise the comparison rule.
    const VALUES: [f32; 8] = [
        0.0,
        -0.0,
        1.0,
        1.0,
        -2.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let mut rng = StdRng::seed_from_u64(0x9002);
    for case in 0..300 {
        let g = Pool2dGeometry {
            planes: rng.gen_range(1..=5),
            h: rng.gen_range(2..=19),
            w: rng.gen_range(2..=71),
            k: 2,
            stride: 2,
        };
        // Half the cases draw from VALUES (ties, NaN), half are continuous.
        let x: Vec<f32> = if case % 2 == 0 {
            (0..g.input_len())
                .map(|_| VALUES[rng.gen_range(0..VALUES.len())])
                .collect()
        } else {
            uniform(&mut rng, g.input_len())
        };
        let (mut y, mut arg) = (vec![7.0f32; g.output_len()], vec![u32::MAX; g.output_len()]);
        let (mut y_ref, mut arg_ref) = (vec![-7.0f32; g.output_len()], vec![0u32; g.output_len()]);
        max_pool2d_forward(&g, &x, &mut y, &mut arg);
        max_pool2d_forward_reference(&g, &x, &mut y_ref, &mut arg_ref);
        let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(&y), bits(&y_ref), "{g:?}");
        assert_eq!(arg, arg_ref, "{g:?}");
    }
}

#[test]
fn relu_pools_equal_the_pools_of_a_relu_bit_for_bit() {
    // max(x, 0) maps NaN and −0 to 0, so ties among zeros are everywhere: the argmax must
    // still be the first element, as on a ReLU'd copy. Windows 2 × 2 / 2 and others.
    const VALUES: [f32; 7] = [
        0.0,
        -0.0,
        1.0,
        -2.0,
        f32::NAN,
        f32::INFINITY,
        f32::NEG_INFINITY,
    ];
    let mut rng = StdRng::seed_from_u64(0x9003);
    let bits = |v: &[f32]| v.iter().map(|x| x.to_bits()).collect::<Vec<_>>();
    for case in 0..300 {
        let (k, stride) = if case % 3 == 2 {
            (rng.gen_range(1..=3), rng.gen_range(1..=3))
        } else {
            (2, 2)
        };
        let g = Pool2dGeometry {
            planes: rng.gen_range(1..=5),
            h: rng.gen_range(3..=19),
            w: rng.gen_range(3..=71),
            k,
            stride,
        };
        let x: Vec<f32> = if case % 2 == 0 {
            (0..g.input_len())
                .map(|_| VALUES[rng.gen_range(0..VALUES.len())])
                .collect()
        } else {
            uniform(&mut rng, g.input_len())
        };
        // The kernels' ReLU: NaN and both zeros give +0 (`f32::max` may keep a −0).
        let relu: Vec<f32> = x.iter().map(|&v| if v > 0.0 { v } else { 0.0 }).collect();
        let (mut y, mut arg) = (vec![7.0f32; g.output_len()], vec![u32::MAX; g.output_len()]);
        let (mut y_ref, mut arg_ref) = (vec![-7.0f32; g.output_len()], vec![0u32; g.output_len()]);
        max_pool2d_relu_forward(&g, &x, &mut y, &mut arg);
        max_pool2d_forward(&g, &relu, &mut y_ref, &mut arg_ref);
        assert_eq!((bits(&y), &arg), (bits(&y_ref), &arg_ref), "{g:?}");
        let hw = g.h * g.w;
        let (mut m, mut m_ref) = (vec![7.0f32; g.planes], vec![-7.0f32; g.planes]);
        global_avg_pool_relu_forward(g.planes, hw, &x, &mut m);
        global_avg_pool_forward(g.planes, hw, &relu, &mut m_ref);
        assert_eq!(bits(&m), bits(&m_ref), "{g:?}");
    }
}

#[test]
fn max_pool_propagates_nan() {
    let g = Pool2dGeometry {
        planes: 1,
        h: 2,
        w: 2,
        k: 2,
        stride: 2,
    };
    let mut y = [0.0f32];
    let mut arg = [0u32];
    max_pool2d_forward(&g, &[1.0, f32::NAN, 3.0, 2.0], &mut y, &mut arg);
    assert!(y[0].is_nan());
    assert_eq!(arg, [1]);
}

#[test]
fn avg_pool_adjoint_identity_and_window_mean_random_geometries() {
    let mut rng = StdRng::seed_from_u64(0xA7);
    for _ in 0..200 {
        let g = random_pool_geometry(&mut rng);
        let x = uniform(&mut rng, g.input_len());
        let dy = uniform(&mut rng, g.output_len());
        let mut y = vec![f32::NAN; g.output_len()];
        avg_pool2d_forward(&g, &x, &mut y);
        if g.output_len() > 0 {
            // First window of the first plane, by the definition.
            let mean: f32 = (0..g.k)
                .flat_map(|u| (0..g.k).map(move |v| u * g.w + v))
                .map(|idx| x[idx])
                .sum::<f32>()
                / (g.k * g.k) as f32;
            // At most 16 terms of size < 1 summed in another order: 1e-6.
            assert!((y[0] - mean).abs() <= 1e-6, "{g:?}");
        }
        let mut dx = vec![0.0; g.input_len()];
        avg_pool2d_backward(&g, &dy, &mut dx);
        let (lhs, rhs) = (dot(&y, &dy), dot(&x, &dx));
        // Same products (each scaled by 1/k^2) in different f32 orders.
        let tol = 1e-5 * (1.0 + abs_dot(&y, &dy));
        assert!((lhs - rhs).abs() <= tol, "{g:?}: {lhs} vs {rhs}");
    }
}

#[test]
fn global_avg_pool_is_plane_mean_and_its_adjoint_spreads_evenly() {
    let x = [1.0, 2.0, 3.0, 4.0, 10.0, 20.0, 30.0, 40.0];
    let mut y = [0.0f32; 2];
    global_avg_pool_forward(2, 4, &x, &mut y);
    assert_eq!(y, [2.5, 25.0]);
    let mut dx = [1.0f32; 8];
    global_avg_pool_backward(2, 4, &[4.0, -8.0], &mut dx);
    assert_eq!(dx, [2.0, 2.0, 2.0, 2.0, -1.0, -1.0, -1.0, -1.0]);
}

#[test]
fn global_avg_pool_lane_sum_matches_reference_random_shapes() {
    let mut rng = StdRng::seed_from_u64(0x9003);
    for _ in 0..200 {
        let planes = rng.gen_range(1..=6);
        // Plane sizes around the 8-lane width and the ENN's 7 × 58 = 406.
        let hw = [1, 7, 8, 9, 15, 16, 17, 63, 64, 65, 406, 1001][rng.gen_range(0..12)];
        let x = uniform(&mut rng, planes * hw);
        let (mut y, mut y_ref) = (vec![0.0f32; planes], vec![0.0f32; planes]);
        global_avg_pool_forward(planes, hw, &x, &mut y);
        global_avg_pool_forward_reference(planes, hw, &x, &mut y_ref);
        for p in 0..planes {
            let plane = &x[p * hw..(p + 1) * hw];
            // Both are f32 sums of hw terms |v| <= 1 in different orders; each is within
            // hw·ε·Σ|v| of the exact sum, so they differ by at most 2·hw·ε·mean|v| after
            // dividing by hw (bound doubled for the final division's rounding).
            let mean_abs = plane.iter().map(|v| v.abs() as f64).sum::<f64>() / hw as f64;
            let tol = 4.0 * hw as f64 * f32::EPSILON as f64 * mean_abs + f32::MIN_POSITIVE as f64;
            let diff = (y[p] as f64 - y_ref[p] as f64).abs();
            assert!(
                diff <= tol,
                "planes {planes} hw {hw}: {} vs {}",
                y[p],
                y_ref[p]
            );
        }
        // A plane shorter than one lane group is summed in the same order as the reference.
        if hw < 8 {
            assert_eq!(y, y_ref);
        }
    }
}
