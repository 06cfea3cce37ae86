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

/// Most floats of any menu's register tile (AVX-512 12×32); `microkernel_body` stores a C^T
/// tile's accumulators into a buffer of this size.
const MAX_TILE: usize = 12 * 32;

/// Where a microkernel call reads its operands: element (r, p) of the A panel at
/// `a[r * a_rs + p * a_cs]` and row p of the B panel (NR consecutive floats) at `b[p * b_rs]`.
///
/// Packed micro-panels are `(a_rs, a_cs, b_rs) = (1, MR, NR)`. An operand read in place
/// (`blocked::Direct`) keeps its own strides: A any (each element is a scalar broadcast), B
/// with unit column stride (each row of the panel is vector loads).
#[derive(Clone, Copy)]
pub(super) struct Panels {
    pub(super) a: *const f32,
    pub(super) a_rs: usize,
    pub(super) a_cs: usize,
    pub(super) b: *const f32,
    pub(super) b_rs: usize,
}

/// The register-tiled microkernel: `acc (MR×NR) = sum_p A(r, p) * B(p, j)` over the panels
/// `o` describes, NR = NV * LANES, then the (clipped) update of C. Every element is one FMA
/// chain over p in increasing order from zero, whatever the strides: reading an operand in
/// place instead of packed gives the same bits.
///
/// # Safety
/// `o` addresses `kc` steps of an MR-row A panel and an NR-column B panel, all readable; the
/// tile's `rows × cols` elements (rows <= MR, cols <= NR) are inside C; the CPU supports
/// `S`'s instructions.
#[inline(always)]
pub(super) unsafe fn microkernel_body<S: Simd, const MR: usize, const NV: usize>(
    kc: usize,
    o: Panels,
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
        let mut ap = o.a;
        let mut bp = o.b;
        for _ in 0..kc {
            let mut bv = [S::zero(); NV];
            for (v, x) in bv.iter_mut().enumerate() {
                // SAFETY: v * lanes < NR and bp points at one packed row of NR floats.
                *x = S::load(bp.add(v * lanes));
            }
            for (r, row) in acc.iter_mut().enumerate() {
                // SAFETY: r < MR and ap points at column p of the A panel.
                let av = S::splat(*ap.add(r * o.a_rs));
                for (x, &bx) in row.iter_mut().zip(bv.iter()) {
                    *x = S::mul_add(av, bx, *x);
                }
            }
            // SAFETY: advancing one k step; the last advance points one step past the panels
            // (`wrapping_add`: for an operand read in place that may lie past its matrix).
            ap = ap.wrapping_add(o.a_cs);
            bp = bp.wrapping_add(o.b_rs);
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
                    update::<S>(t.c.ptr.add(r * t.c.rs + j), x, count, (va, vb, t.beta));
                }
            }
        } else {
            // Strided tile (a block of C^T): store the accumulators as floats (element (r, j)
            // at index r * NR + j) and update the valid corner with the same operations (mul,
            // then add) as above, so every element rounds identically. Stored through vector
            // stores, not by taking `acc`'s address: an escaping `acc` made LLVM keep the
            // accumulators in memory through the whole reduction loop of the strided entry
            // points (a store per FMA).
            const { assert!(MR * NV * S::LANES <= MAX_TILE) };
            let mut buf = [0.0f32; MAX_TILE];
            for (r, row) in acc.iter().enumerate() {
                for (v, &x) in row.iter().enumerate() {
                    // SAFETY: r * nr + v * lanes + lanes <= MR * NR <= MAX_TILE.
                    S::store(buf.as_mut_ptr().add(r * nr + v * lanes), x);
                }
            }
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
                        update::<S>(cp, S::load(col.as_ptr()), count, (va, vb, t.beta));
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

/// `C = alpha * x + beta * C` on `count <= LANES` consecutive floats at `cp` (fewer than
/// LANES through a partial, masked where the ISA has masks, load and store); `(va, vb)` are
/// alpha and beta splatted. `#[inline(always)]`: it must compile inside the microkernel's
/// `#[target_feature]` entry point (as a closure called from two places it was not inlined,
/// and the packed products ran 2× slower).
///
/// # Safety
/// `cp[..count]` lies inside the tile; the CPU supports `S`'s instructions.
#[inline(always)]
unsafe fn update<S: Simd>(cp: *mut f32, x: S::V, count: usize, (va, vb, beta): (S::V, S::V, f32)) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        let ax = S::mul(va, x);
        let old = || {
            if count == S::LANES {
                S::load(cp)
            } else {
                S::load_first(cp, count)
            }
        };
        let out = if beta == 0.0 {
            ax
        } else if beta == 1.0 {
            S::add(ax, old())
        } else {
            S::add(ax, S::mul(vb, old()))
        };
        if count == S::LANES {
            S::store(cp, out);
        } else {
            S::store_first(cp, out, count);
        }
    }
}

/// A microkernel entry point over packed micro-panels: `(kc, packed A, packed B, tile)`.
pub(super) type KernelFn = unsafe fn(usize, *const f32, *const f32, &Tile);
/// The same microkernel with the operand strides of [`Panels`] as run-time values.
pub(super) type StridedKernelFn = unsafe fn(usize, Panels, &Tile);

/// One instantiated microkernel and its tile shape: `f` with the packed strides fixed at
/// compile time (the common case, no stride arithmetic in the loop), `strided` for products
/// that read an operand in place.
pub(super) struct Kernel {
    pub(super) mr: usize,
    pub(super) nr: usize,
    pub(super) f: KernelFn,
    pub(super) strided: StridedKernelFn,
}
