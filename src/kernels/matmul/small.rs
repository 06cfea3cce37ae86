//! Unpacked products: tiny, one-row and one-column sgemm calls, and the accumulate-only
//! products of convolutions with short reductions.
//!
//! A general sgemm's packing and planning cost is a visible share of a product of a few
//! hundred thousand multiply-adds, so these read their operands in place:
//!
//! * [`direct_with`]: `C = alpha op(A) op(B) + beta C`, any layout (sgemm's small path);
//! * [`acc_nn_with`]: `C (m×n) += op(A) (m×k) · B (k×n)`, `op(A)[i,p] = a[i*a_rs + p*a_cs]`,
//!   a 4-row × 16-column tile of C kept in registers;
//! * [`acc_nt_with`]: `C (m×n) += A (m×k) · Bᵀ`, B stored n×k (dot products of rows).
//!
//! Each takes the [`Isa`] explicitly (tests call every supported one); the bodies are generic
//! `#[inline(always)]` Rust that each ISA's `#[target_feature]` wrapper recompiles, except
//! `acc_nt` on x86, whose dot products the compiler does not vectorize well (3-4 GFLOP/s), so
//! it is written with AVX2 intrinsics; AVX-512 machines run that same AVX2 code, which keeps
//! its lane-sum order (and so its bits) the same on both. Portable bodies multiply then add
//! (the baseline has no FMA); the FMA ISAs fuse, so their results differ in the last bits.

// SAFETY (every `unsafe` call of a `_avx2_fma` / `_avx512` wrapper in this file): the wrapper
// is only reached from a `match` on an [`Isa`] that [`supported_or_best`] returned, i.e. one
// `Isa::is_supported` confirmed on this CPU (AVX-512 implies AVX2 + FMA there); apart from
// `acc_nt_avx2_fma`, whose pointer arithmetic is argued where it happens, the wrapped bodies
// use only bounds-checked slice indexing.

use super::Gemm;
use crate::kernels::isa::{self, Isa};

/// `isa` if this CPU supports it, else the best one it does (running an unsupported ISA
/// would be an illegal instruction).
fn supported_or_best(isa: Isa) -> Isa {
    if isa.is_supported() {
        isa
    } else {
        isa::best()
    }
}

// ---------------------------------------------------------------------------------------------
// sgemm's unpacked path.
// ---------------------------------------------------------------------------------------------

/// `C = alpha * op(A) * op(B) + beta * C` without packing, for any shape (fast when tiny, or
/// when m or n is 1). Slice lengths must match the dimensions (debug-checked).
pub fn direct_with(isa: Isa, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    g.debug_check(a, b, c);
    match supported_or_best(isa) {
        // SAFETY: see the module note.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { direct_avx512(g, a, b, c) },
        // SAFETY: see the module note.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { direct_avx2_fma(g, a, b, c) },
        _ => direct_body(g, a, b, c),
    }
}

/// `unsafe fn $name(args) { $body(args) }` compiled with the target features `$f`: the
/// generic body, vectorized for that ISA.
macro_rules! compiled_with {
    ($f:literal, $name:ident = $body:expr, ($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $f)]
        #[allow(clippy::too_many_arguments)]
        unsafe fn $name($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}

compiled_with!("avx2,fma", direct_avx2_fma = direct_body, (g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]));
compiled_with!("avx512f", direct_avx512 = direct_body, (g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]));

fn dot(x: &[f32], y: &[f32]) -> f32 {
    let mut acc = [0.0f32; 16];
    let xc = x.chunks_exact(16);
    let yc = y.chunks_exact(16);
    let (xr, yr) = (xc.remainder(), yc.remainder());
    for (xs, ys) in xc.zip(yc) {
        for l in 0..16 {
            acc[l] += xs[l] * ys[l];
        }
    }
    for (l, (xv, yv)) in xr.iter().zip(yr).enumerate() {
        acc[l] += xv * yv;
    }
    let mut w = 16;
    while w > 1 {
        w /= 2;
        for l in 0..w {
            acc[l] += acc[l + w];
        }
    }
    acc[0]
}

/// Unpacked product, generic so each ISA wrapper lets the compiler vectorize it:
/// `op(B)` row-major (not transposed): C row i += (alpha a_ip) * B row p (contiguous axpys);
/// otherwise each C element is a dot product of an op(A) row with a contiguous op(B) column.
#[inline(always)]
fn direct_body(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (g.m, g.k, g.n);
    if !g.trans_b && n > 1 {
        for (i, c_row) in c.chunks_exact_mut(n).enumerate() {
            if g.beta == 0.0 {
                c_row.fill(0.0);
            } else if g.beta != 1.0 {
                c_row.iter_mut().for_each(|x| *x *= g.beta);
            }
            for (p, b_row) in b.chunks_exact(n).enumerate() {
                let s = g.alpha * g.a_at(a, i, p);
                for (cj, bj) in c_row.iter_mut().zip(b_row) {
                    *cj += s * bj;
                }
            }
        }
        return;
    }
    // Column j of op(B) is b[j*k .. (j+1)*k]: true when trans_b, and when n == 1 in either
    // layout.
    let mut row_buf = [0.0f32; 256];
    for i in 0..m {
        for j in 0..n {
            let b_col = &b[j * k..(j + 1) * k];
            let d = if !g.trans_a {
                dot(&a[i * k..(i + 1) * k], b_col)
            } else {
                // Gather the strided row of op(A) in stack-sized pieces.
                let mut s = 0.0;
                for (q, b_part) in b_col.chunks(row_buf.len()).enumerate() {
                    let p0 = q * row_buf.len();
                    for (t, x) in row_buf[..b_part.len()].iter_mut().enumerate() {
                        *x = a[(p0 + t) * m + i];
                    }
                    s += dot(&row_buf[..b_part.len()], b_part);
                }
                s
            };
            let cij = &mut c[i * n + j];
            *cij = if g.beta == 0.0 {
                g.alpha * d
            } else {
                g.alpha * d + g.beta * *cij
            };
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Accumulate-only products for convolutions with short reductions.
// ---------------------------------------------------------------------------------------------

/// `C (m×n) += op(A) (m×k) · B (k×n)` with `op(A)[i,p] = a[i*a_rs + p*a_cs]` and B, C
/// row-major, on `isa` (see the module docs). Measured 35-50 GFLOP/s (AVX2) at reduction
/// lengths 9-16, above the packed sgemm there.
#[allow(clippy::too_many_arguments)]
pub fn acc_nn_with(
    isa: Isa,
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    c: &mut [f32],
) {
    assert!(m == 0 || k == 0 || (m - 1) * a_rs + (k - 1) * a_cs < a.len());
    assert_eq!(b.len(), k * n, "acc_nn: B must hold k*n elements");
    assert_eq!(c.len(), m * n, "acc_nn: C must hold m*n elements");
    match supported_or_best(isa) {
        // SAFETY: see the module note.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { acc_nn_avx512(m, k, n, a, a_rs, a_cs, b, c) },
        // SAFETY: see the module note.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { acc_nn_avx2_fma(m, k, n, a, a_rs, a_cs, b, c) },
        _ => acc_nn_body::<false, 16>(m, k, n, a, a_rs, a_cs, b, c),
    }
}

/// `C (m×n) += A (m×k) · Bᵀ` with B stored n×k, all row-major, on `isa`.
pub fn acc_nt_with(
    isa: Isa,
    (m, k, n): (usize, usize, usize),
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) {
    assert_eq!(a.len(), m * k, "acc_nt: A must hold m*k elements");
    assert_eq!(b.len(), n * k, "acc_nt: B must hold n*k elements");
    assert_eq!(c.len(), m * n, "acc_nt: C must hold m*n elements");
    match supported_or_best(isa) {
        // SAFETY: see the module note (AVX-512 runs the AVX2 code on purpose, same bits).
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx2Fma => unsafe { acc_nt_avx2_fma(m, k, n, a, b, c) },
        _ => acc_nt_body::<false>(m, k, n, a, b, c),
    }
}

/// Whether `acc_nt` has a vectorized body on `isa` (the portable one runs at 3-4 GFLOP/s, so
/// callers prefer sgemm there).
pub fn acc_nt_is_fast(isa: Isa) -> bool {
    matches!(supported_or_best(isa), Isa::Avx512 | Isa::Avx2Fma)
}

const TILE_M: usize = 4;
const TILE_N: usize = 16;

#[inline(always)]
fn madd<const FMA: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FMA {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// One `TILE_M × W` tile of `acc_nn` at (i0, j0): `acc = sum_p op(A)[i, p] * B[p, j]` from zero
/// (one chain per element, p in order), then `C += acc`. Any W gives every element the same
/// operations, so the tile width is a speed choice only.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn nn_tile<const FMA: bool, const W: usize>(
    (i0, j0): (usize, usize),
    k: usize,
    n: usize,
    a: &[f32],
    (a_rs, a_cs): (usize, usize),
    b: &[f32],
    c: &mut [f32],
) {
    let mut acc = [[0.0f32; W]; TILE_M];
    for p in 0..k {
        let b_tile: &[f32; W] = b[p * n + j0..p * n + j0 + W].try_into().unwrap();
        for (r, acc_row) in acc.iter_mut().enumerate() {
            let av = a[(i0 + r) * a_rs + p * a_cs];
            for (x, &bv) in acc_row.iter_mut().zip(b_tile) {
                *x = madd::<FMA>(*x, av, bv);
            }
        }
    }
    for (r, acc_row) in acc.iter().enumerate() {
        let c_tile = &mut c[(i0 + r) * n + j0..(i0 + r) * n + j0 + W];
        for (x, &v) in c_tile.iter_mut().zip(acc_row) {
            *x += v;
        }
    }
}

/// C (m×n) += op(A) · B; see [`acc_nn_with`]. Full 4-row groups run register tiles over the
/// first `n / 16 * 16` columns (`WIDE` columns at a time, then 16), everything else the axpy
/// form below; which element takes which form depends only on (m, n), never on `WIDE`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn acc_nn_body<const FMA: bool, const WIDE: usize>(
    m: usize,
    k: usize,
    n: usize,
    a: &[f32],
    a_rs: usize,
    a_cs: usize,
    b: &[f32],
    c: &mut [f32],
) {
    let n_full = n / TILE_N * TILE_N;
    let mut i0 = 0;
    while i0 < m {
        let rows = TILE_M.min(m - i0);
        if rows == TILE_M {
            let mut j0 = 0;
            while j0 + WIDE <= n_full {
                nn_tile::<FMA, WIDE>((i0, j0), k, n, a, (a_rs, a_cs), b, c);
                j0 += WIDE;
            }
            while j0 < n_full {
                nn_tile::<FMA, TILE_N>((i0, j0), k, n, a, (a_rs, a_cs), b, c);
                j0 += TILE_N;
            }
        }
        // Leftover rows (all columns) or leftover columns of full row tiles: axpy form.
        let j_start = if rows == TILE_M { n_full } else { 0 };
        if j_start < n {
            for r in 0..rows {
                let i = i0 + r;
                let c_row = &mut c[i * n + j_start..(i + 1) * n];
                for p in 0..k {
                    let av = a[i * a_rs + p * a_cs];
                    for (x, &bv) in c_row.iter_mut().zip(&b[p * n + j_start..(p + 1) * n]) {
                        *x = madd::<FMA>(*x, av, bv);
                    }
                }
            }
        }
        i0 += rows;
    }
}

/// C (m×n) += A (m×k) · B^T with B stored n×k: dot products of rows. Four rows of A share
/// each load of a B row (4 accumulators × 16 lanes), so the loop is not load-bound.
#[inline(always)]
fn acc_nt_body<const FMA: bool>(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    const LANES: usize = 16;
    let k_full = k / LANES * LANES;
    let mut i0 = 0;
    while i0 < m {
        let rows = TILE_M.min(m - i0);
        for j in 0..n {
            let b_row = &b[j * k..(j + 1) * k];
            if rows == TILE_M {
                let a_rows: [&[f32]; TILE_M] =
                    std::array::from_fn(|r| &a[(i0 + r) * k..(i0 + r + 1) * k]);
                let mut acc = [[0.0f32; LANES]; TILE_M];
                for q in (0..k_full).step_by(LANES) {
                    let b_ch: &[f32; LANES] = b_row[q..q + LANES].try_into().unwrap();
                    for (acc_r, a_row) in acc.iter_mut().zip(&a_rows) {
                        let a_ch: &[f32; LANES] = a_row[q..q + LANES].try_into().unwrap();
                        for ((x, &av), &bv) in acc_r.iter_mut().zip(a_ch).zip(b_ch) {
                            *x = madd::<FMA>(*x, av, bv);
                        }
                    }
                }
                for (r, (acc_r, a_row)) in acc.iter().zip(&a_rows).enumerate() {
                    let mut dot = acc_r.iter().sum::<f32>();
                    for (&av, &bv) in a_row[k_full..].iter().zip(&b_row[k_full..]) {
                        dot = madd::<FMA>(dot, av, bv);
                    }
                    c[(i0 + r) * n + j] += dot;
                }
            } else {
                for r in 0..rows {
                    let a_row = &a[(i0 + r) * k..(i0 + r + 1) * k];
                    // Sixteen independent partial sums hide the FMA latency.
                    let mut acc = [0.0f32; LANES];
                    for (a_ch, b_ch) in a_row[..k_full]
                        .chunks_exact(LANES)
                        .zip(b_row[..k_full].chunks_exact(LANES))
                    {
                        for ((x, &av), &bv) in acc.iter_mut().zip(a_ch).zip(b_ch) {
                            *x = madd::<FMA>(*x, av, bv);
                        }
                    }
                    let mut dot = acc.iter().sum::<f32>();
                    for (&av, &bv) in a_row[k_full..].iter().zip(&b_row[k_full..]) {
                        dot = madd::<FMA>(dot, av, bv);
                    }
                    c[(i0 + r) * n + j] += dot;
                }
            }
        }
        i0 += rows;
    }
}

compiled_with!("avx2,fma", acc_nn_avx2_fma = acc_nn_body::<true, 16>, (
    m: usize, k: usize, n: usize, a: &[f32], a_rs: usize, a_cs: usize, b: &[f32], c: &mut [f32]
));
// The same body with 512-bit vectors and 4×64 tiles (16 zmm accumulators): every element is
// still one fused chain over p in order, so the bits match the AVX2 build.
compiled_with!("avx512f,fma", acc_nn_avx512 = acc_nn_body::<true, 64>, (
    m: usize, k: usize, n: usize, a: &[f32], a_rs: usize, a_cs: usize, b: &[f32], c: &mut [f32]
));

/// One `R × C` tile of `acc_nt` with AVX2+FMA: `C[i0+r, j0+c] += dot(A row i0+r, B row j0+c)`,
/// eight lanes of the reduction per step, `R * C` accumulators in registers.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a` must point at `R` rows of `k` floats (row stride
/// `k`), `b` at `C` rows of `k` floats, `c` at an `R × C` block with row stride `n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn nt_tile_avx2_fma<const R: usize, const C: usize>(
    k: usize,
    a: *const f32,
    b: *const f32,
    c: *mut f32,
    n: usize,
) {
    // SAFETY: see the function's safety contract and the per-access notes below.
    unsafe {
        use std::arch::x86_64::*;
        let k8 = k / 8 * 8;
        let mut acc = [[_mm256_setzero_ps(); C]; R];
        let mut q = 0;
        while q < k8 {
            let mut bv = [_mm256_setzero_ps(); C];
            for (col, v) in bv.iter_mut().enumerate() {
                // SAFETY: q + 8 <= k8 <= k, so the 8 floats lie inside B row `col` (< C rows).
                *v = _mm256_loadu_ps(b.add(col * k + q));
            }
            for (row, acc_row) in acc.iter_mut().enumerate() {
                // SAFETY: as above, inside A row `row` (< R rows).
                let av = _mm256_loadu_ps(a.add(row * k + q));
                for (x, &v) in acc_row.iter_mut().zip(&bv) {
                    *x = _mm256_fmadd_ps(av, v, *x);
                }
            }
            q += 8;
        }
        for (row, acc_row) in acc.iter().enumerate() {
            for (col, &v) in acc_row.iter().enumerate() {
                let mut lanes = [0.0f32; 8];
                _mm256_storeu_ps(lanes.as_mut_ptr(), v);
                let mut dot = lanes.iter().sum::<f32>();
                for t in k8..k {
                    // SAFETY: t < k: inside A row `row` and B row `col`.
                    dot = (*a.add(row * k + t)).mul_add(*b.add(col * k + t), dot);
                }
                // SAFETY: row < R, col < C: inside the caller's R × C block of C.
                *c.add(row * n + col) += dot;
            }
        }
    }
}

/// `acc_nt` with AVX2+FMA: 4 × 2 tiles (6 loads per 8 FMAs), then 4 × 1 and 1 × 1 edges.
///
/// # Safety
/// The CPU must support AVX2 and FMA; `a.len() == m*k`, `b.len() == n*k`, `c.len() == m*n`.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn acc_nt_avx2_fma(m: usize, k: usize, n: usize, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert!(a.len() >= m * k && b.len() >= n * k && c.len() >= m * n);
    unsafe {
        let (ap, bp, cp) = (a.as_ptr(), b.as_ptr(), c.as_mut_ptr());
        let mut i0 = 0;
        // SAFETY (all tile calls): i0 + R <= m and j0 + C <= n, so the tile's A rows, B rows and
        // C block lie inside the slices whose lengths were asserted above.
        while i0 + 4 <= m {
            let mut j0 = 0;
            while j0 + 2 <= n {
                nt_tile_avx2_fma::<4, 2>(k, ap.add(i0 * k), bp.add(j0 * k), cp.add(i0 * n + j0), n);
                j0 += 2;
            }
            if j0 < n {
                nt_tile_avx2_fma::<4, 1>(k, ap.add(i0 * k), bp.add(j0 * k), cp.add(i0 * n + j0), n);
            }
            i0 += 4;
        }
        for i in i0..m {
            for j in 0..n {
                nt_tile_avx2_fma::<1, 1>(k, ap.add(i * k), bp.add(j * k), cp.add(i * n + j), n);
            }
        }
    }
}
