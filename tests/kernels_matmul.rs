//! sgemm against its reference: every ISA this CPU supports, called directly through
//! `sgemm_with`, over seeded random shapes that hit the edges (1, primes, sizes around the
//! micro-tile MR×NR, the SIMD width, the KC/MC/NC blocks), both transposes and
//! alpha/beta in {0, 1, 2.5}; exact small-integer products; NaN canaries for beta = 0; and
//! bit-identical results for 1, 2 and 3 threads.

mod common;

use common::uniform;
use grad_instructor::kernels::isa::{self, Isa};
use grad_instructor::kernels::matmul::{
    matmul_reference, packed_k_chunk, sgemm, sgemm_with, sgemm_with_tile, thread_count, Gemm,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// Runs `sgemm_with(isa, threads)` and the reference on the same random operands (C filled with
/// NaN when beta = 0, to prove C is not read) and checks every element against an error
/// bound that grows with k:
///
/// `|got - want| <= atol + rtol * (|alpha| * sum_p |a_ip b_pj| + |beta c_ij|)`
///
/// A length-k f32 sum (any order, fused or not) is within `k * u * sum |terms|` of the exact
/// sum, u = 2^-24 = EPSILON/2 (Higham, Accuracy and Stability, 3.1); scaling by alpha, the
/// beta term and the final add add three roundings; the reference (f64 sum, then two f32
/// roundings) errs by less. So `rtol = (k + 4) * EPSILON` holds with a factor-2 margin;
/// `atol = 1e-30` only absorbs underflow of products near zero.
fn check(isa: Isa, threads: usize, g: &Gemm, seed: u64) {
    check_product(isa, threads, g, seed, |a, b, c| {
        sgemm_with(isa, threads, g, a, b, c)
    });
}

/// [`check`] of any product function `run(a, b, c)` computing `g`.
fn check_product(
    isa: Isa,
    threads: usize,
    g: &Gemm,
    seed: u64,
    run: impl FnOnce(&[f32], &[f32], &mut [f32]),
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let a = uniform(&mut rng, g.m * g.k);
    let b = uniform(&mut rng, g.k * g.n);
    let c0 = if g.beta == 0.0 {
        vec![f32::NAN; g.m * g.n]
    } else {
        uniform(&mut rng, g.m * g.n)
    };
    let mut got = c0.clone();
    run(&a, &b, &mut got);
    let mut want = c0.clone();
    matmul_reference(g, &a, &b, &mut want);
    let rtol = (g.k as f32 + 4.0) * f32::EPSILON;
    let atol = 1e-30;
    for i in 0..g.m {
        for j in 0..g.n {
            let abs_sum: f32 = (0..g.k)
                .map(|p| (g.a_at(&a, i, p) * g.b_at(&b, p, j)).abs())
                .sum();
            let prev = if g.beta == 0.0 {
                0.0
            } else {
                (g.beta * c0[i * g.n + j]).abs()
            };
            let tol = atol + rtol * (g.alpha.abs() * abs_sum + prev);
            let (x, y) = (got[i * g.n + j], want[i * g.n + j]);
            assert!(
                (x - y).abs() <= tol,
                "isa {} threads {threads} seed {seed} {g:?}: C[{i},{j}] = {x}, reference {y}, \
                 tolerance {tol}",
                isa.name()
            );
        }
    }
}

/// Edge-hitting sizes: 1, primes, around the SIMD widths (4, 8, 16) and the tiles (MR in
/// 2..=12, NR in 8, 16, 32).
const EDGE_DIMS: &[usize] = &[
    1, 2, 3, 4, 5, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 31, 32, 33, 37, 47, 48, 49, 64, 97, 100,
];
/// Reduction lengths around KC = 384 (one, two and three chunks).
const EDGE_K: &[usize] = &[1, 2, 3, 7, 16, 17, 100, 383, 384, 385, 769];
const SCALARS: &[f32] = &[0.0, 1.0, 2.5];

fn random_shapes(isa: Isa, seed: u64, count: usize) {
    let mut rng = StdRng::seed_from_u64(seed);
    for case in 0..count {
        let pick = |rng: &mut StdRng, xs: &[usize]| xs[rng.gen_range(0..xs.len())];
        let m = pick(&mut rng, EDGE_DIMS);
        let n = pick(&mut rng, EDGE_DIMS);
        let k = if case % 2 == 0 {
            pick(&mut rng, EDGE_K)
        } else {
            rng.gen_range(1..200)
        };
        let g = Gemm {
            alpha: SCALARS[rng.gen_range(0..3)],
            beta: SCALARS[rng.gen_range(0..3)],
            trans_a: rng.gen(),
            trans_b: rng.gen(),
            ..Gemm::new(m, k, n)
        };
        check(isa, 1, &g, seed * 100_000 + case as u64);
    }
    // Block boundaries: more rows than MC = 3072, more columns than NC = 480, in both
    // orientations the planner may pick, with every transpose combination.
    let big = [
        (3100, 9, 40),
        (40, 9, 3100),
        (13, 20, 481),
        (481, 20, 13),
        (130, 400, 97),
    ];
    for (s, &(m, k, n)) in big.iter().enumerate() {
        for t in 0..4 {
            let g = Gemm {
                alpha: 2.5,
                beta: SCALARS[(s + t) % 3],
                trans_a: t & 1 == 1,
                trans_b: t & 2 == 2,
                ..Gemm::new(m, k, n)
            };
            check(isa, 1, &g, seed + 7 * s as u64 + t as u64);
        }
    }
}

fn random_shapes_if_supported(isa: Isa) {
    if !isa.is_supported() {
        eprintln!("{} not supported on this CPU: skipped", isa.name());
        return;
    }
    random_shapes(isa, 0x5eed + isa as u64, 400);
}

#[test]
fn sgemm_portable_matches_reference_random_shapes() {
    random_shapes_if_supported(Isa::Portable);
}

#[test]
fn sgemm_avx2_fma_matches_reference_random_shapes() {
    random_shapes_if_supported(Isa::Avx2Fma);
}

#[test]
fn sgemm_avx512_matches_reference_random_shapes() {
    random_shapes_if_supported(Isa::Avx512);
}

#[test]
fn sgemm_neon_matches_reference_random_shapes() {
    random_shapes_if_supported(Isa::Neon);
}

#[test]
fn sgemm_dispatch_matches_reference_mlp_shapes() {
    // The training loop's products: forward X W^T, backward dW = dY^T X and dX = dY W.
    let shapes = [
        (64, 784, 100, false, true),
        (100, 64, 784, true, false),
        (64, 100, 784, false, false),
        (64, 100, 10, false, true),
        (10, 64, 100, true, false),
        (64, 10, 100, false, false),
        (1, 784, 100, false, true),
        (100, 1, 784, true, false),
    ];
    for (s, &(m, k, n, trans_a, trans_b)) in shapes.iter().enumerate() {
        let g = Gemm {
            trans_a,
            trans_b,
            ..Gemm::new(m, k, n)
        };
        check(isa::selected(), isa::num_threads(), &g, 900 + s as u64);
        let mut rng = StdRng::seed_from_u64(s as u64);
        let a = uniform(&mut rng, m * k);
        let b = uniform(&mut rng, k * n);
        let (mut c1, mut c2) = (vec![0.0; m * n], vec![0.0; m * n]);
        sgemm(&g, &a, &b, &mut c1);
        sgemm_with(isa::selected(), isa::num_threads(), &g, &a, &b, &mut c2);
        assert_eq!(c1, c2, "sgemm must equal sgemm_with(selected, num_threads)");
    }
}

#[test]
fn sgemm_small_integers_are_exact_on_every_isa() {
    // Entries in -4..=4, k <= 800 (crossing the KC = 384 chunking): every partial sum is an
    // integer far below 2^24 in magnitude (|sum| <= 800 * 16 = 12800), alpha and beta are
    // small integers and C starts integral, so every operation is exact in f32 whatever the
    // order: results must equal bit for bit.
    let mut rng = StdRng::seed_from_u64(42);
    for isa in isa::supported() {
        for case in 0..120 {
            let m = rng.gen_range(1..70);
            let n = rng.gen_range(1..70);
            let k = if case % 3 == 0 {
                rng.gen_range(370..=800)
            } else {
                rng.gen_range(1..120)
            };
            let g = Gemm {
                alpha: [1.0, 2.0, -3.0][case % 3],
                beta: [0.0, 1.0, 2.0][(case / 3) % 3],
                trans_a: case % 2 == 1,
                trans_b: (case / 2) % 2 == 1,
                ..Gemm::new(m, k, n)
            };
            let mut int_vec = |len: usize| -> Vec<f32> {
                (0..len).map(|_| rng.gen_range(-4i32..=4) as f32).collect()
            };
            let a = int_vec(m * k);
            let b = int_vec(k * n);
            let c0 = int_vec(m * n);
            let (mut got, mut want) = (c0.clone(), c0.clone());
            sgemm_with(isa, 1, &g, &a, &b, &mut got);
            matmul_reference(&g, &a, &b, &mut want);
            assert_eq!(got, want, "isa {} case {case} {g:?}", isa.name());
        }
    }
}

#[test]
fn sgemm_beta_zero_never_reads_c_nan_canary() {
    // C is full of NaN; with beta = 0 it must be overwritten, never read (0 * NaN = NaN).
    for isa in isa::supported() {
        for &(m, k, n) in &[
            (1, 5, 7),
            (5, 1, 1),
            (3, 4, 5),
            (33, 47, 65),
            (200, 300, 10),
        ] {
            for t in 0..4 {
                let g = Gemm {
                    alpha: 2.5,
                    trans_a: t & 1 == 1,
                    trans_b: t & 2 == 2,
                    ..Gemm::new(m, k, n)
                };
                let mut rng = StdRng::seed_from_u64(t);
                let a = uniform(&mut rng, m * k);
                let b = uniform(&mut rng, k * n);
                let mut c = vec![f32::NAN; m * n];
                sgemm_with(isa, 2, &g, &a, &b, &mut c);
                assert!(
                    c.iter().all(|x| x.is_finite()),
                    "isa {} {g:?}: NaN leaked from C",
                    isa.name()
                );
            }
        }
    }
}

#[test]
fn sgemm_results_identical_for_1_2_3_threads() {
    // Threads split C over rows or columns, never over k, so each element is computed by the
    // same operations in the same order: bit-identical. The shapes are above the threading
    // thread policy's threshold for 3 threads (asserted below, so the test cannot pass by
    // never splitting) and split both ways (rows, columns, the transposed plan for small n).
    let shapes = [
        (600, 200, 450, false, false),
        (80, 640, 1000, false, true),
        (6000, 300, 30, true, false),
        (513, 385, 257, true, true),
    ];
    for &(m, k, n, _, _) in &shapes {
        assert_eq!(
            thread_count(3, (m, k, n), m >= n, m.max(n) / 4),
            3,
            "{m}x{k}x{n} would not be split 3 ways"
        );
    }
    for isa in isa::supported() {
        for (s, &(m, k, n, trans_a, trans_b)) in shapes.iter().enumerate() {
            let g = Gemm {
                alpha: 2.5,
                beta: 1.0,
                trans_a,
                trans_b,
                ..Gemm::new(m, k, n)
            };
            let mut rng = StdRng::seed_from_u64(77 + s as u64);
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            let c0 = uniform(&mut rng, m * n);
            let mut one = c0.clone();
            sgemm_with(isa, 1, &g, &a, &b, &mut one);
            for threads in [2, 3] {
                let mut many = c0.clone();
                sgemm_with(isa, threads, &g, &a, &b, &mut many);
                let same = one
                    .iter()
                    .zip(&many)
                    .all(|(x, y)| x.to_bits() == y.to_bits());
                assert!(
                    same,
                    "isa {} {g:?}: {threads} threads differ from 1",
                    isa.name()
                );
            }
            check(isa, 3, &g, 500 + s as u64);
        }
    }
}

#[test]
fn thread_policy_keeps_small_products_on_one_thread_and_splits_large_ones() {
    // Tiny products never pay for a wake-up; one unit of work cannot be split.
    assert_eq!(thread_count(2, (128, 100, 10), true, 11), 1);
    assert_eq!(thread_count(2, (16, 16, 16), true, 2), 1);
    assert_eq!(thread_count(8, (4096, 4096, 4096), true, 1), 1);
    // Large products use the whole budget, but never more threads than units.
    assert_eq!(thread_count(2, (1024, 1024, 1024), true, 86), 2);
    assert_eq!(thread_count(8, (1024, 1024, 1024), true, 5), 5);
    assert_eq!(thread_count(1, (1024, 1024, 1024), true, 86), 1);
    // Mid-sized products, which measured slower on two threads than on one on a shared
    // machine (WAKE_COST_MACS), stay on one; the batch-size-60000 product and 512³ split.
    for (m, k, n) in [
        (128, 784, 100),
        (256, 256, 256),
        (64, 784, 100),
        (128, 100, 784),
    ] {
        assert_eq!(thread_count(2, (m, k, n), true, m / 6), 1, "{m}x{k}x{n}");
    }
    for (m, k, n) in [(60000, 784, 100), (512, 512, 512)] {
        assert_eq!(thread_count(2, (m, k, n), true, m / 6), 2, "{m}x{k}x{n}");
    }
    // More threads never predicted for less work.
    let mut last = 1;
    for s in (16..=2048).step_by(16) {
        let t = thread_count(4, (s, s, s), true, s);
        assert!(t >= last, "{s}: {t} threads after {last}");
        last = t;
    }
}

#[test]
fn sgemm_every_tile_shape_matches_reference() {
    // The alternative tiles (AVX2 8×8 and 4×24) and the menu's, forced one at a time.
    let tiles = [
        (6, 16),
        (5, 16),
        (4, 16),
        (3, 16),
        (8, 8),
        (4, 24),
        (12, 32),
        (4, 32),
    ];
    let mut rng = StdRng::seed_from_u64(5);
    for isa in isa::supported() {
        for &tile in &tiles {
            for case in 0..40u64 {
                let pick = |rng: &mut StdRng, xs: &[usize]| xs[rng.gen_range(0..xs.len())];
                let g = Gemm {
                    alpha: SCALARS[rng.gen_range(0..3)],
                    beta: SCALARS[rng.gen_range(0..3)],
                    trans_a: rng.gen(),
                    trans_b: rng.gen(),
                    ..Gemm::new(
                        pick(&mut rng, EDGE_DIMS),
                        pick(&mut rng, EDGE_K),
                        pick(&mut rng, EDGE_DIMS),
                    )
                };
                let mut ran = true;
                check_product(isa, 2, &g, case, |a, b, c| {
                    ran = sgemm_with_tile(isa, 2, tile, &g, a, b, c);
                    if !ran {
                        matmul_reference(&g, a, b, c);
                    }
                });
            }
        }
    }
    // Tiles that an ISA has must be accepted.
    let g = Gemm::new(3, 3, 3);
    let (a, b, mut c) = (vec![1.0; 9], vec![1.0; 9], vec![0.0; 9]);
    if Isa::Avx2Fma.is_supported() {
        for tile in [(6, 16), (8, 8), (4, 24)] {
            assert!(sgemm_with_tile(Isa::Avx2Fma, 1, tile, &g, &a, &b, &mut c));
            assert_eq!(c, vec![3.0; 9]);
        }
    }
    assert!(!sgemm_with_tile(
        Isa::Portable,
        1,
        (5, 5),
        &g,
        &a,
        &b,
        &mut c
    ));
}

/// The shapes where the reduction split matters: k across several KC chunks, m and n that make
/// the planner pick different tiles and orientations (the training products among them).
const SPLIT_SHAPES: &[(usize, usize, usize, bool, bool)] = &[
    (64, 784, 100, false, true),
    (100, 64, 784, true, false),
    (128, 100, 10, false, false),
    (37, 785, 41, true, true),
    (200, 406, 13, false, false),
    (13, 1000, 300, false, true),
    (96, 333, 96, true, false),
    // A of 9.4 MB and 3.1 MB, beyond an L2 of 2 MB: computed as C with A read in place
    // (blocked::plan's tall-product rule) where the least-padding plan is C^T.
    (3000, 784, 100, false, true),
    (2600, 300, 37, false, false),
];

#[test]
fn packed_k_chunk_states_the_reduction_split_bit_for_bit() {
    // On the FMA ISAs, each C element must equal, bit for bit: per chunk of `packed_k_chunk`
    // reduction steps, one fused chain from zero, then `C = alpha * acc + C` (the first chunk
    // `+ beta * C`), chunks in order. Computed here with scalar `mul_add` (correctly rounded,
    // as the vector FMA is).
    for isa in isa::supported()
        .into_iter()
        .filter(|i| matches!(i, Isa::Avx2Fma | Isa::Avx512))
    {
        for (s, &(m, k, n, trans_a, trans_b)) in SPLIT_SHAPES.iter().enumerate() {
            let g = Gemm {
                alpha: 2.5,
                beta: 0.5,
                trans_a,
                trans_b,
                ..Gemm::new(m, k, n)
            };
            let kc = packed_k_chunk(isa, &g).expect("a packed product");
            assert!(kc >= 1 && kc <= k);
            let mut rng = StdRng::seed_from_u64(300 + s as u64);
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            let c0 = uniform(&mut rng, m * n);
            let mut got = c0.clone();
            sgemm_with(isa, 2, &g, &a, &b, &mut got);
            for i in 0..m {
                for j in 0..n {
                    let mut c = c0[i * n + j];
                    for (q, p0) in (0..k).step_by(kc).enumerate() {
                        let mut acc = 0.0f32;
                        for p in p0..(p0 + kc).min(k) {
                            acc = g.a_at(&a, i, p).mul_add(g.b_at(&b, p, j), acc);
                        }
                        let beta = if q == 0 { g.beta } else { 1.0 };
                        c = g.alpha * acc + beta * c;
                    }
                    assert_eq!(
                        got[i * n + j].to_bits(),
                        c.to_bits(),
                        "isa {} {g:?} kc {kc}: C[{i},{j}]",
                        isa.name()
                    );
                }
            }
        }
    }
    // The unpacked paths have no chunks.
    assert_eq!(packed_k_chunk(isa::best(), &Gemm::new(1, 784, 100)), None);
    assert_eq!(packed_k_chunk(isa::best(), &Gemm::new(4, 4, 4)), None);
}

#[test]
fn every_tile_shape_gives_the_bits_of_the_default_plan() {
    // The tile and orientation are speed choices only: the reduction split is fixed per
    // (machine, ISA, shape), so a forced tile must reproduce the default result exactly.
    let tiles = [
        (12, 32),
        (10, 32),
        (8, 32),
        (6, 32),
        (4, 32),
        (6, 16),
        (5, 16),
        (4, 16),
        (3, 16),
        (8, 8),
        (4, 24),
        (4, 8),
        (2, 8),
    ];
    for isa in isa::supported() {
        for (s, &(m, k, n, trans_a, trans_b)) in SPLIT_SHAPES.iter().enumerate() {
            let g = Gemm {
                alpha: 2.5,
                beta: 1.0,
                trans_a,
                trans_b,
                ..Gemm::new(m, k, n)
            };
            let mut rng = StdRng::seed_from_u64(400 + s as u64);
            let a = uniform(&mut rng, m * k);
            let b = uniform(&mut rng, k * n);
            let c0 = uniform(&mut rng, m * n);
            let mut want = c0.clone();
            sgemm_with(isa, 1, &g, &a, &b, &mut want);
            let mut ran = 0;
            for tile in tiles {
                let mut got = c0.clone();
                if sgemm_with_tile(isa, 2, tile, &g, &a, &b, &mut got) {
                    ran += 1;
                    let same = got
                        .iter()
                        .zip(&want)
                        .all(|(x, y)| x.to_bits() == y.to_bits());
                    assert!(same, "isa {} tile {tile:?} {g:?}", isa.name());
                }
            }
            assert!(ran >= 2, "isa {}: only {ran} tiles ran", isa.name());
        }
    }
}
