//! The unpacked products of `kernels::matmul::small` against `matmul_reference`, called
//! directly on every ISA this CPU supports (`*_with(isa, ..)`), so the portable bodies run
//! under `cargo test` on an AVX machine too: seeded random shapes around the 4×16 register
//! tile and the 8/16-lane reduction chunks, both `op(A)` layouts of `acc_nn`, exact
//! small-integer cases, and `direct_with` with every transpose and alpha/beta in {0, 1, 2.5}.

mod common;

use common::uniform;
use grad_instructor::kernels::isa::{self, Isa};
use grad_instructor::kernels::matmul::small::{acc_nn_with, acc_nt_with, direct_with};
use grad_instructor::kernels::matmul::{matmul_reference, Gemm};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Sizes around the tiles: 1, primes, 4 (TILE_M), 8 and 16 (lanes, TILE_N) and their
/// neighbours.
const DIMS: &[usize] = &[1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 49];

/// `|got - want| <= (k + 4) * EPSILON * (sum_p |a_ip b_pj| + |c0_ij|) + 1e-30`: a length-k
/// f32 sum in any order, fused or not, errs by at most `k u sum|terms|` (u = EPSILON / 2,
/// Higham 3.1), plus a few roundings for the accumulate; a factor-2 margin.
fn assert_close_to_reference(
    isa: Isa,
    what: &str,
    g: &Gemm,
    (a, b, c0): (&[f32], &[f32], &[f32]),
    got: &[f32],
) {
    let mut want = c0.to_vec();
    matmul_reference(g, a, b, &mut want);
    let rtol = (g.k as f32 + 4.0) * f32::EPSILON;
    for i in 0..g.m {
        for j in 0..g.n {
            let abs_sum: f32 = (0..g.k)
                .map(|p| (g.a_at(a, i, p) * g.b_at(b, p, j)).abs())
                .sum();
            let prev = (g.beta * c0[i * g.n + j]).abs();
            let tol = 1e-30 + rtol * (g.alpha.abs() * abs_sum + prev);
            let (x, y) = (got[i * g.n + j], want[i * g.n + j]);
            assert!(
                (x - y).abs() <= tol,
                "{what} isa {} {g:?}: C[{i},{j}] = {x}, reference {y}, tolerance {tol}",
                isa.name()
            );
        }
    }
}

fn pick(rng: &mut StdRng) -> usize {
    DIMS[rng.gen_range(0..DIMS.len())]
}

#[test]
fn acc_nn_matches_reference_random_shapes_every_isa() {
    for isa in isa::supported() {
        let mut rng = StdRng::seed_from_u64(11);
        for case in 0..200 {
            let (m, k, n) = (pick(&mut rng), pick(&mut rng), pick(&mut rng));
            let trans_a = case % 2 == 1;
            // C += op(A) B is beta = 1, alpha = 1.
            let g = Gemm {
                beta: 1.0,
                trans_a,
                ..Gemm::new(m, k, n)
            };
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            let c0 = uniform(&mut rng, m * n);
            let mut got = c0.clone();
            let strides = if trans_a { (1, m) } else { (k, 1) };
            acc_nn_with(isa, (m, k, n), &a, strides, &b, &mut got);
            assert_close_to_reference(isa, "acc_nn", &g, (&a, &b, &c0), &got);
        }
    }
}

#[test]
fn acc_nt_matches_reference_random_shapes_every_isa() {
    for isa in isa::supported() {
        let mut rng = StdRng::seed_from_u64(12);
        for _ in 0..200 {
            let (m, n) = (pick(&mut rng), pick(&mut rng));
            // Reductions long and short: the conv weight gradient reduces over all pixels.
            let k = if rng.gen() {
                pick(&mut rng)
            } else {
                rng.gen_range(1..800)
            };
            let g = Gemm {
                beta: 1.0,
                trans_b: true,
                ..Gemm::new(m, k, n)
            };
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            let c0 = uniform(&mut rng, m * n);
            let mut got = c0.clone();
            acc_nt_with(isa, (m, k, n), &a, &b, &mut got);
            assert_close_to_reference(isa, "acc_nt", &g, (&a, &b, &c0), &got);
        }
    }
}

#[test]
fn direct_matches_reference_random_shapes_every_isa() {
    const SCALARS: [f32; 3] = [0.0, 1.0, 2.5];
    for isa in isa::supported() {
        let mut rng = StdRng::seed_from_u64(13);
        for _ in 0..300 {
            let (m, k, n) = (pick(&mut rng), pick(&mut rng), pick(&mut rng));
            let g = Gemm {
                alpha: SCALARS[rng.gen_range(0..3)],
                beta: SCALARS[rng.gen_range(0..3)],
                trans_a: rng.gen(),
                trans_b: rng.gen(),
                ..Gemm::new(m, k, n)
            };
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            // beta = 0: C must not be read, so NaN must not leak.
            let c0 = if g.beta == 0.0 {
                vec![f32::NAN; m * n]
            } else {
                uniform(&mut rng, m * n)
            };
            let mut got = c0.clone();
            direct_with(isa, &g, &a, &b, &mut got);
            let c_ref = if g.beta == 0.0 {
                vec![0.0; m * n]
            } else {
                c0.clone()
            };
            assert_close_to_reference(isa, "direct", &g, (&a, &b, &c_ref), &got);
        }
    }
}

#[test]
fn small_products_exact_on_small_integers_every_isa() {
    // Entries in -4..=4 and k <= 64: every partial sum is an integer below 2^24, so every
    // order of evaluation (fused or not) is exact: results equal bit for bit.
    let mut rng = StdRng::seed_from_u64(14);
    for isa in isa::supported() {
        for case in 0..100 {
            let (m, n) = (pick(&mut rng), pick(&mut rng));
            let k = rng.gen_range(1..65);
            let mut ints = |len: usize| -> Vec<f32> {
                (0..len).map(|_| rng.gen_range(-4i32..=4) as f32).collect()
            };
            let (a, b, c0) = (ints(m * k), ints(k * n), ints(m * n));
            let nt = case % 2 == 0;
            let g = Gemm {
                beta: 1.0,
                trans_b: nt,
                ..Gemm::new(m, k, n)
            };
            let mut got = c0.clone();
            if nt {
                acc_nt_with(isa, (m, k, n), &a, &b, &mut got);
            } else {
                acc_nn_with(isa, (m, k, n), &a, (k, 1), &b, &mut got);
            }
            let mut want = c0.clone();
            matmul_reference(&g, &a, &b, &mut want);
            assert_eq!(got, want, "isa {} case {case} {g:?}", isa.name());
        }
    }
}

#[test]
fn acc_nn_avx512_wide_tiles_equal_avx2_bit_for_bit() {
    // Both fuse every multiply-add and give each element one chain over p from zero, so the
    // 4×64 AVX-512 tiles must reproduce the 4×16 AVX2 ones exactly, at widths that mix the
    // 64-, 16-column and axpy paths (and C starting non-zero).
    if !(Isa::Avx512.is_supported() && Isa::Avx2Fma.is_supported()) {
        eprintln!("needs AVX-512 and AVX2: skipped");
        return;
    }
    let mut rng = StdRng::seed_from_u64(15);
    for &(m, k, n) in &[
        (16, 9, 1755),
        (9, 16, 1755),
        (5, 3, 64),
        (8, 7, 80),
        (4, 1, 97),
        (7, 16, 130),
    ] {
        for trans_a in [false, true] {
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            let c0 = uniform(&mut rng, m * n);
            let strides = if trans_a { (1, m) } else { (k, 1) };
            let (mut x, mut y) = (c0.clone(), c0.clone());
            acc_nn_with(Isa::Avx512, (m, k, n), &a, strides, &b, &mut x);
            acc_nn_with(Isa::Avx2Fma, (m, k, n), &a, strides, &b, &mut y);
            let same = x.iter().zip(&y).all(|(p, q)| p.to_bits() == q.to_bits());
            assert!(
                same,
                "{m}x{k}x{n} trans_a {trans_a}: AVX-512 and AVX2 differ"
            );
            let g = Gemm {
                beta: 1.0,
                trans_a,
                ..Gemm::new(m, k, n)
            };
            assert_close_to_reference(Isa::Avx512, "acc_nn", &g, (&a, &b, &c0), &x);
        }
    }
}
