//! The SIMD abstraction and the one generic register-tiled microkernel.
//!
//! The microkernel is written once, generic over [`Simd`]; `simd.rs` instantiates it per ISA
//! inside `#[target_feature]` entry points, so each instantiation compiles to that ISA's
//! instructions. This is the only function allowed past ~80 lines: splitting the reduction
//! loop from the C update would cost a call per tile.

use super::pack::MatMut;

/// The few vector operations the microkernel needs. Implementations are `#[inline(always)]`
/// so that, inlined into a `#[target_feature]` entry point, they compile to single
/// instructions of that ISA.
///
/// # Safety
/// Every method may only run on a CPU with the implementation's instruction set, and pointer
/// arguments must be valid for `LANES` floats.
pub(in crate::kernels) trait Simd {
    type V: Copy;
    const LANES: usize;
    unsafe fn zero() -> Self::V;
    unsafe fn splat(x: f32) -> Self::V;
    unsafe fn load(p: *const f32) -> Self::V;
    unsafe fn store(p: *mut f32, v: Self::V);
    /// `a * b + c`, fused (one rounding) where the ISA has FMA.
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V;
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    /// Loads the first `n < LANES` floats at `p`, other lanes zero (only `n` are read).
    #[inline(always)]
    unsafe fn load_first(p: *const f32, n: usize) -> Self::V {
        let mut tmp = [0.0f32; 16];
        // SAFETY: the caller passes n < LANES <= 16 readable floats.
        unsafe {
            std::ptr::copy_nonoverlapping(p, tmp.as_mut_ptr(), n);
            Self::load(tmp.as_ptr())
        }
    }
    /// Stores the first `n < LANES` lanes of `v` at `p` (only `n` floats are written).
    #[inline(always)]
    unsafe fn store_first(p: *mut f32, v: Self::V, n: usize) {
        let mut tmp = [0.0f32; 16];
        // SAFETY: tmp holds LANES <= 16 floats; the caller passes n writable floats.
        unsafe {
            Self::store(tmp.as_mut_ptr(), v);
            std::ptr::copy_nonoverlapping(tmp.as_ptr(), p, n);
        }
    }
    /// Hint that the cache line holding `p` will be read soon (no-op where not implemented).
    #[inline(always)]
    unsafe fn prefetch(_p: *const f32) {}
}

/// Where one microkernel call writes: an `rows × cols` corner (clipped at the matrix edge)
/// of an MR×NR tile of C, updated as `C = alpha * acc + beta * C` (`beta == 0`: C not read).
pub(super) struct Tile {
    pub(super) c: MatMut,
    pub(super) rows: usize,
    pub(super) cols: usize,
    pub(super) alpha: f32,
    pub(super) beta: f32,
}

/// The register-tiled microkernel: `acc (MR×NR) = sum_p a[p*MR + r] * b[p*NR + j]` over the
/// packed micro-panels, NR = NV * LANES, then the (clipped) update of C.
///
/// # Safety
/// `a` holds `kc * MR` and `b` holds `kc * NV * S::LANES` floats; the tile's `rows × cols`
/// elements (rows <= MR, cols <= NR) are inside C; the CPU supports `S`'s instructions.
#[inline(always)]
pub(super) unsafe fn microkernel_body<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    a: *const f32,
    b: *const f32,
    t: &Tile,
) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        let lanes = S::LANES;
        let nr = NV * lanes;
        // Fetch the C tile while the reduction runs, so the final update does not stall on it.
        // (Along C's unit stride: the tile's rows, or its columns for a C^T tile.)
        let (runs, run_len, run_stride) = if t.c.cs == 1 {
            (t.rows, t.cols, t.c.rs)
        } else {
            (t.cols, t.rows, t.c.cs)
        };
        for q in 0..runs {
            let run = t.c.ptr.wrapping_add(q * run_stride);
            S::prefetch(run);
            S::prefetch(run.wrapping_add(run_len - 1));
        }
        let mut acc = [[S::zero(); NV]; MR];
        let mut ap = a;
        let mut bp = b;
        for _ in 0..kc {
            let mut bv = [S::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                // SAFETY: v * lanes < NR and bp points at one packed row of NR floats.
                *x = S::load(bp.add(v * lanes));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: r < MR and ap points at one packed column of MR floats.
                let av = S::splat(*ap.add(r));
                for (x, &bx) in row.iter_mut().zip(bv.iter()) {
                    *x = S::mul_add(av, bx, *x);
                }
            }
            // SAFETY: advancing one packed k step; the last advance points one past the panel.
            ap = ap.add(MR);
            bp = bp.add(nr);
        }

        let va = S::splat(t.alpha);
        let vb = S::splat(t.beta);
        if t.c.cs == 1 {
            // Rows of C contiguous: vector read-modify-write, the last vector of a clipped
            // tile through a partial (masked where the ISA has masks) load and store.
            for (r, row) in acc.iter().enumerate().take(t.rows) {
                for (v, &x) in row.iter().enumerate() {
                    let j = v * lanes;
                    if j >= t.cols {
                        break;
                    }
                    let count = lanes.min(t.cols - j);
                    // SAFETY: r < rows and j + count <= cols: inside the tile.
                    let cp = t.c.ptr.add(r * t.c.rs + j);
                    let ax = S::mul(va, x);
                    let old = || {
                        if count == lanes {
                            S::load(cp)
                        } else {
                            S::load_first(cp, count)
                        }
                    };
                    let out = if t.beta == 0.0 {
                        ax
                    } else if t.beta == 1.0 {
                        S::add(ax, old())
                    } else {
                        S::add(ax, S::mul(vb, old()))
                    };
                    if count == lanes {
                        S::store(cp, out);
                    } else {
                        S::store_first(cp, out, count);
                    }
                }
            }
        } else {
            // Strided tile (a block of C^T): read the accumulators as floats (`acc` is MR rows of NV
            // vectors of LANES f32 lanes, contiguous: element (r, j) at index r * NR + j), and
            // update the valid corner with the same operations (mul, then add) as above, so
            // every element rounds identically.
            // SAFETY: every `S::V` is LANES f32 lanes with no padding (__m256, __m512,
            // float32x4_t, [f32; 4]), so `acc` is exactly MR * NR initialized floats.
            let buf = std::slice::from_raw_parts(acc.as_ptr() as *const f32, MR * nr);
            if t.c.rs == 1 {
                // A block of C^T whose tile column j is a contiguous run of `rows` floats of
                // C's row j: gather the run's accumulators (column j of `buf`) into vectors and
                // update it with vector operations, as the row-major branch above does;
                // element by element this update cost ~15 % of a 128×784×100 product.
                let mut col = [0.0f32; 16];
                for j in 0..t.cols {
                    for r0 in (0..t.rows).step_by(lanes) {
                        let count = lanes.min(t.rows - r0);
                        for (i, x) in col.iter_mut().enumerate().take(count) {
                            *x = buf[(r0 + i) * nr + j];
                        }
                        // SAFETY: r0 + count <= rows and j < cols: inside the tile, whose
                        // column j is C's row j (cs) and rows r0.. consecutive floats (rs 1).
                        let cp = t.c.ptr.add(j * t.c.cs + r0);
                        let ax = S::mul(va, S::load(col.as_ptr()));
                        let old = || {
                            if count == lanes {
                                S::load(cp)
                            } else {
                                S::load_first(cp, count)
                            }
                        };
                        let out = if t.beta == 0.0 {
                            ax
                        } else if t.beta == 1.0 {
                            S::add(ax, old())
                        } else {
                            S::add(ax, S::mul(vb, old()))
                        };
                        if count == lanes {
                            S::store(cp, out);
                        } else {
                            S::store_first(cp, out, count);
                        }
                    }
                }
            } else {
                // Any other strides (not produced by the planner today): element by element.
                for r in 0..t.rows {
                    for j in 0..t.cols {
                        // SAFETY: r < rows and j < cols: inside the tile.
                        let cp = t.c.ptr.add(r * t.c.rs + j * t.c.cs);
                        let ax = t.alpha * buf[r * nr + j];
                        *cp = if t.beta == 0.0 {
                            ax
                        } else if t.beta == 1.0 {
                            ax + *cp
                        } else {
                            ax + t.beta * *cp
                        };
                    }
                }
            }
        }
    }
}

/// A microkernel entry point: `(kc, packed A, packed B, tile)`.
pub(super) type KernelFn = unsafe fn(usize, *const f32, *const f32, &Tile);

/// One instantiated microkernel and its tile shape.
pub(super) struct Kernel {
    pub(super) mr: usize,
    pub(super) nr: usize,
    pub(super) f: KernelFn,
}
