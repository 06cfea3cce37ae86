//! Single-precision matrix multiply: `C = alpha * op(A) * op(B) + beta * C`.
//!
//! All matrices are dense row-major. `op(A)` is m×k: A is stored m×k when `trans_a` is false
//! and k×m when it is true (so backprop's `dW = dY^T X` never materializes a transpose).
//! Likewise `op(B)` is k×n, stored k×n or n×k. C is m×n. When `beta == 0`, C is write-only:
//! whatever it held (even NaN) does not leak into the result.
//!
//! # How the fast path works (BLIS-style)
//!
//! Every operand is seen through a strided view (`element (r, c) = ptr[r*rs + c*cs]`), so a
//! transposed operand is just a view with swapped strides. The product is cut into blocks:
//!
//! ```text
//! for ic in 0..m step MC          A block  MC×KC, packed into MR-row micro-panels   (L3)
//!   for pc in 0..k step KC
//!     pack A(ic.., pc..)
//!     for jc in 0..n step NC      B block  KC×NC, packed into NR-column micro-panels (L2)
//!       pack B(pc.., jc..)
//!       for each MR-row micro-panel of A      (MR×KC, stays in L1 over the loop below)
//!         for each NR-column micro-panel of B (KC×NR, streamed from L2)
//!           microkernel: an MR×NR tile of C kept in registers over the KC reduction
//! ```
//!
//! The microkernel broadcasts one element of A per row and multiplies it with NR/LANES
//! vectors of B: `MR * NR/LANES` independent FMA chains. Packing pads micro-panels with
//! zeros, so the microkernel always runs a full tile and only the store is clipped.
//!
//! Each C element is always one FMA chain over p in increasing order within a KC chunk,
//! chunks added in order, whatever tile or thread computes it: threads split C over M or N
//! (never K), so results are bit-identical for any thread count.
//!
//! When `n` is small (e.g. 10 outputs) the tile would be mostly padding, so the planner may
//! compute `C^T = op(B)^T op(A)^T` instead (the same views with roles swapped) and pick the
//! MR (from a small menu) that pads least. Tiny, one-row and one-column products skip
//! packing altogether (`direct_*`).

use super::isa::{self, Isa};
use std::sync::Mutex;

/// Dimensions and scalars of one `C = alpha * op(A) * op(B) + beta * C` product.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Gemm {
    /// Rows of op(A) and of C.
    pub m: usize,
    /// Columns of op(A), rows of op(B): the reduction length.
    pub k: usize,
    /// Columns of op(B) and of C.
    pub n: usize,
    /// Scale of the product.
    pub alpha: f32,
    /// Scale of the previous C (0 means C is not read).
    pub beta: f32,
    /// A is stored k×m and used transposed.
    pub trans_a: bool,
    /// B is stored n×k and used transposed.
    pub trans_b: bool,
}

impl Gemm {
    /// `C = A * B` with A m×k and B k×n, no transposes, alpha = 1, beta = 0.
    pub fn new(m: usize, k: usize, n: usize) -> Self {
        Gemm {
            m,
            k,
            n,
            alpha: 1.0,
            beta: 0.0,
            trans_a: false,
            trans_b: false,
        }
    }

    /// Element of op(A) at (i, p).
    #[inline(always)]
    pub fn a_at(&self, a: &[f32], i: usize, p: usize) -> f32 {
        if self.trans_a {
            a[p * self.m + i]
        } else {
            a[i * self.k + p]
        }
    }

    /// Element of op(B) at (p, j).
    #[inline(always)]
    pub fn b_at(&self, b: &[f32], p: usize, j: usize) -> f32 {
        if self.trans_b {
            b[j * self.k + p]
        } else {
            b[p * self.n + j]
        }
    }

    /// Multiply-adds of the product (`m * n * k`); flops are twice this.
    pub fn macs(&self) -> usize {
        self.m * self.n * self.k
    }

    fn debug_check(&self, a: &[f32], b: &[f32], c: &[f32]) {
        debug_assert_eq!(a.len(), self.m * self.k, "A must hold m*k elements");
        debug_assert_eq!(b.len(), self.k * self.n, "B must hold k*n elements");
        debug_assert_eq!(c.len(), self.m * self.n, "C must hold m*n elements");
    }
}

/// The definition, one dot product per element, accumulated in f64: the test oracle.
pub fn matmul_reference(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    g.debug_check(a, b, c);
    for i in 0..g.m {
        for j in 0..g.n {
            let mut dot = 0.0f64;
            for p in 0..g.k {
                dot += g.a_at(a, i, p) as f64 * g.b_at(b, p, j) as f64;
            }
            let prev = if g.beta == 0.0 {
                0.0
            } else {
                g.beta * c[i * g.n + j]
            };
            c[i * g.n + j] = g.alpha * dot as f32 + prev;
        }
    }
}

/// The dispatching entry point: the ISA from [`isa::selected`], threads from
/// [`isa::num_threads`].
pub fn sgemm(g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    sgemm_with(isa::selected(), isa::num_threads(), g, a, b, c);
}

/// [`sgemm`] with an explicit ISA and thread budget (for tests and benches).
///
/// An ISA this CPU lacks falls back to [`isa::best`] (running it would be an illegal
/// instruction). `threads == 0` is treated as 1.
///
/// # Panics
/// If a slice length does not match the dimensions (checked in release builds too, because
/// the packed kernels read through raw pointers).
pub fn sgemm_with(isa: Isa, threads: usize, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    assert_eq!(a.len(), g.m * g.k, "sgemm: A must hold m*k elements");
    assert_eq!(b.len(), g.k * g.n, "sgemm: B must hold k*n elements");
    assert_eq!(c.len(), g.m * g.n, "sgemm: C must hold m*n elements");
    if g.m == 0 || g.n == 0 {
        return;
    }
    let isa = if isa.is_supported() { isa } else { isa::best() };
    if g.k == 0 || g.m == 1 || g.n == 1 || g.macs() <= DIRECT_MAX_MACS {
        direct(isa, g, a, b, c);
    } else {
        packed(isa, threads.max(1), g, a, b, c);
    }
}

// ---------------------------------------------------------------------------------------------
// Block sizes, chosen for AMD Zen 4 (L1d 32 KiB, L2 1 MiB per core, L3 32 MiB shared).
//
// Zen 4 has two 256-bit FMA pipes; a 512-bit FMA occupies both for one cycle, so the core's
// peak is 32 flop/cycle with either AVX2 or AVX-512 and an FMA has 4 cycles of latency: at
// least 4 (AVX-512) or 8 (AVX2) independent accumulator chains keep the pipes full.
//
// * MR×NR: AVX-512 uses 12×32 (24 zmm accumulators + 2 B vectors + 1 broadcast of the 32
//   registers); per k step it loads 2 vectors and broadcasts 12 scalars for 24 FMAs, well under
//   the two loads per cycle the core sustains. AVX2 uses 6×16 (12 ymm accumulators of 16
//   registers). Smaller MR variants exist so that a small m (or n, when transposed) pads less.
// * KC = 384: the A micro-panel (MR×KC×4 B = 18 KiB at MR = 12) fits L1d and is reused by every
//   B micro-panel of the block (partly from L2: each 48 KiB B micro-panel streams past it); KC
//   also sets how often a C tile is reloaded (once per KC chunk).
//   K is cut into equal chunks of at most KC (784 -> 2×392), so no chunk is tiny.
// * NC = 480 (a multiple of every NR): the packed B block KC×NC×4 B = 720 KiB fits in the
//   1 MiB L2 and is reused by every A micro-panel of the MC block.
// * MC = 3072: the packed A block (MC×KC×4 B = 4.5 MiB per thread) lives in L3 and is
//   streamed through L1 one micro-panel at a time; B is re-packed once per MC block.
// ---------------------------------------------------------------------------------------------

/// Reduction chunk (see the block-size note above).
const KC: usize = 384;
/// Columns of C per packed B block.
const NC: usize = 480;
/// Rows of C per packed A block.
const MC: usize = 3072;
/// Products with at most this many multiply-adds skip packing (`direct`): packing's
/// O(mk + kn) copies would cost as much as the O(mnk) product.
const DIRECT_MAX_MACS: usize = 16 * 1024;
/// A thread is only worth spawning for at least this many multiply-adds. Spawning and joining
/// costs tens of µs, and the training loop's products (64×784×100 ≈ 5M MACs, ~60 µs on one
/// core) ran *slower* split in two: measured `GI_NUM_THREADS=1` 0.45 s vs 2 threads 0.85 s
/// for one MNIST epoch of 784-100-10 at batch 64 with a 2M threshold. 16M keeps every
/// training-step product on one core and still splits 512³ and larger.
pub const MIN_MACS_PER_THREAD: usize = 16 << 20;

// ---------------------------------------------------------------------------------------------
// Strided views.
// ---------------------------------------------------------------------------------------------

/// Read-only strided matrix view: element (r, c) is `ptr[r * rs + c * cs]`.
#[derive(Clone, Copy)]
struct MatRef {
    ptr: *const f32,
    rs: usize,
    cs: usize,
}

/// Writable strided matrix view: element (r, c) is `ptr[r * rs + c * cs]`.
#[derive(Clone, Copy)]
struct MatMut {
    ptr: *mut f32,
    rs: usize,
    cs: usize,
}

// SAFETY: the views are only sent to the scoped worker threads of one `packed` call, each of
// which reads A and B (shared, immutable for the call) and writes a disjoint block of C.
unsafe impl Send for MatRef {}
unsafe impl Send for MatMut {}
unsafe impl Sync for MatRef {}
unsafe impl Sync for MatMut {}

impl MatRef {
    /// The view shifted to start at (r, c).
    ///
    /// # Safety
    /// (r, c) must lie inside the viewed matrix.
    unsafe fn at(self, r: usize, c: usize) -> MatRef {
        // SAFETY: the caller upholds this function's `# Safety` contract.
        unsafe {
            MatRef {
                ptr: self.ptr.add(r * self.rs + c * self.cs),
                ..self
            }
        }
    }
    fn t(self) -> MatRef {
        MatRef {
            ptr: self.ptr,
            rs: self.cs,
            cs: self.rs,
        }
    }
}

impl MatMut {
    /// The view shifted to start at (r, c).
    ///
    /// # Safety
    /// (r, c) must lie inside the viewed matrix.
    unsafe fn at(self, r: usize, c: usize) -> MatMut {
        // SAFETY: the caller upholds this function's `# Safety` contract.
        unsafe {
            MatMut {
                ptr: self.ptr.add(r * self.rs + c * self.cs),
                ..self
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------
// SIMD abstraction and the generic microkernel.
// ---------------------------------------------------------------------------------------------

/// The few vector operations the microkernel needs. Implementations are `#[inline(always)]`
/// so that, inlined into a `#[target_feature]` entry point, they compile to single
/// instructions of that ISA.
///
/// # Safety
/// Every method may only run on a CPU with the implementation's instruction set, and pointer
/// arguments must be valid for `LANES` floats.
trait Simd {
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
struct Tile {
    c: MatMut,
    rows: usize,
    cols: usize,
    alpha: f32,
    beta: f32,
}

/// The register-tiled microkernel: `acc (MR×NR) = sum_p a[p*MR + r] * b[p*NR + j]` over the
/// packed micro-panels, NR = NV * LANES, then the (clipped) update of C.
///
/// # Safety
/// `a` holds `kc * MR` and `b` holds `kc * NV * S::LANES` floats; the tile's `rows × cols`
/// elements (rows <= MR, cols <= NR) are inside C; the CPU supports `S`'s instructions.
#[inline(always)]
unsafe fn microkernel_body<S: Simd, const MR: usize, const NV: usize>(
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
            // Walk C along its unit stride: rows of the tile normally, columns when the tile
            // is a block of C^T (swapped plan), where each tile column is a run of C's row.
            let update = |r: usize, j: usize| {
                // SAFETY: r < rows and j < cols: inside the tile (caller's contract).
                let cp = t.c.ptr.add(r * t.c.rs + j * t.c.cs);
                let ax = t.alpha * buf[r * nr + j];
                *cp = if t.beta == 0.0 {
                    ax
                } else if t.beta == 1.0 {
                    ax + *cp
                } else {
                    ax + t.beta * *cp
                };
            };
            if t.c.rs == 1 {
                for j in 0..t.cols {
                    for r in 0..t.rows {
                        update(r, j);
                    }
                }
            } else {
                for r in 0..t.rows {
                    for j in 0..t.cols {
                        update(r, j);
                    }
                }
            }
        }
    }
}

/// A microkernel entry point: `(kc, packed A, packed B, tile)`.
type KernelFn = unsafe fn(usize, *const f32, *const f32, &Tile);

/// One instantiated microkernel and its tile shape.
struct Kernel {
    mr: usize,
    nr: usize,
    f: KernelFn,
}

/// Portable: 4-lane arrays the compiler turns into SSE2 (the x86_64 baseline) or NEON.
/// No FMA in the baseline, so `mul_add` is a multiply then an add.
struct Portable;

impl Simd for Portable {
    type V = [f32; 4];
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> Self::V {
        [0.0; 4]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> Self::V {
        [x; 4]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> Self::V {
        // SAFETY: the `Simd` contract: the pointer is valid for LANES floats.
        unsafe {
            // SAFETY: the caller passes a pointer to 4 readable floats.
            (p as *const [f32; 4]).read_unaligned()
        }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: Self::V) {
        // SAFETY: the `Simd` contract: the pointer is valid for LANES floats.
        unsafe {
            // SAFETY: the caller passes a pointer to 4 writable floats.
            (p as *mut [f32; 4]).write_unaligned(v)
        }
    }
    #[inline(always)]
    unsafe fn mul_add(a: Self::V, b: Self::V, c: Self::V) -> Self::V {
        [
            a[0] * b[0] + c[0],
            a[1] * b[1] + c[1],
            a[2] * b[2] + c[2],
            a[3] * b[3] + c[3],
        ]
    }
    #[inline(always)]
    unsafe fn mul(a: Self::V, b: Self::V) -> Self::V {
        [a[0] * b[0], a[1] * b[1], a[2] * b[2], a[3] * b[3]]
    }
    #[inline(always)]
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V {
        [a[0] + b[0], a[1] + b[1], a[2] + b[2], a[3] + b[3]]
    }
}

/// Portable microkernel, MR×8.
///
/// # Safety
/// As [`microkernel_body`].
unsafe fn microkernel_portable<const MR: usize>(kc: usize, a: *const f32, b: *const f32, t: &Tile) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe { microkernel_body::<Portable, MR, 2>(kc, a, b, t) }
}

static KERNELS_PORTABLE: [Kernel; 2] = [
    Kernel {
        mr: 4,
        nr: 8,
        f: microkernel_portable::<4>,
    },
    Kernel {
        mr: 2,
        nr: 8,
        f: microkernel_portable::<2>,
    },
];

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::{microkernel_body, Kernel, Simd, Tile};
    use std::arch::x86_64::*;

    /// AVX2 + FMA, 8 lanes.
    pub(super) struct Avx2Fma;

    impl Simd for Avx2Fma {
        type V = __m256;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn zero() -> __m256 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm256_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m256 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm256_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m256 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe {
                // SAFETY: the caller passes a pointer to 8 readable floats.
                _mm256_loadu_ps(p)
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m256) {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe {
                // SAFETY: the caller passes a pointer to 8 writable floats.
                _mm256_storeu_ps(p, v)
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m256, b: __m256, c: __m256) -> __m256 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm256_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m256, b: __m256) -> __m256 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm256_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn prefetch(p: *const f32) {
            // A hint only: prefetching any address is safe.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
        }
        #[inline(always)]
        unsafe fn add(a: __m256, b: __m256) -> __m256 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm256_add_ps(a, b) }
        }
    }

    /// AVX-512F, 16 lanes.
    pub(super) struct Avx512;

    impl Simd for Avx512 {
        type V = __m512;
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn zero() -> __m512 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm512_setzero_ps() }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> __m512 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm512_set1_ps(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> __m512 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe {
                // SAFETY: the caller passes a pointer to 16 readable floats.
                _mm512_loadu_ps(p)
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: __m512) {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe {
                // SAFETY: the caller passes a pointer to 16 writable floats.
                _mm512_storeu_ps(p, v)
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: __m512, b: __m512, c: __m512) -> __m512 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm512_fmadd_ps(a, b, c) }
        }
        #[inline(always)]
        unsafe fn mul(a: __m512, b: __m512) -> __m512 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm512_mul_ps(a, b) }
        }
        #[inline(always)]
        unsafe fn prefetch(p: *const f32) {
            // A hint only: prefetching any address is safe.
            unsafe { _mm_prefetch::<_MM_HINT_T0>(p as *const i8) }
        }
        #[inline(always)]
        unsafe fn load_first(p: *const f32, n: usize) -> __m512 {
            // SAFETY: the mask enables exactly the first n lanes, so only p[..n] is read;
            // masked-off lanes never fault.
            unsafe { _mm512_maskz_loadu_ps(((1u32 << n) - 1) as u16, p) }
        }
        #[inline(always)]
        unsafe fn store_first(p: *mut f32, v: __m512, n: usize) {
            // SAFETY: the mask enables exactly the first n lanes, so only p[..n] is written.
            unsafe { _mm512_mask_storeu_ps(p, ((1u32 << n) - 1) as u16, v) }
        }
        #[inline(always)]
        unsafe fn add(a: __m512, b: __m512) -> __m512 {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { _mm512_add_ps(a, b) }
        }
    }

    /// AVX2 + FMA microkernel, MR×16 (2 ymm per row).
    ///
    /// # Safety
    /// As [`microkernel_body`]; the CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn microkernel_avx2_fma<const MR: usize>(
        kc: usize,
        a: *const f32,
        b: *const f32,
        t: &Tile,
    ) {
        // SAFETY: the caller upholds this function's `# Safety` contract.
        unsafe { microkernel_body::<Avx2Fma, MR, 2>(kc, a, b, t) }
    }

    /// AVX-512F microkernel, MR×32 (2 zmm per row).
    ///
    /// # Safety
    /// As [`microkernel_body`]; the CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn microkernel_avx512<const MR: usize>(
        kc: usize,
        a: *const f32,
        b: *const f32,
        t: &Tile,
    ) {
        // SAFETY: the caller upholds this function's `# Safety` contract.
        unsafe { microkernel_body::<Avx512, MR, 2>(kc, a, b, t) }
    }

    macro_rules! kernel_menu {
        ($f:ident, $nr:expr, [$($mr:literal),*]) => {
            [$(Kernel { mr: $mr, nr: $nr, f: $f::<$mr> }),*]
        };
    }

    pub(super) static KERNELS_AVX2_FMA: [Kernel; 4] =
        kernel_menu!(microkernel_avx2_fma, 16, [6, 5, 4, 3]);
    pub(super) static KERNELS_AVX512: [Kernel; 5] =
        kernel_menu!(microkernel_avx512, 32, [12, 10, 8, 6, 4]);

    /// AVX [`super::TransposeFn`]: 8×8 blocks transposed in registers (unpack, shuffle,
    /// 128-bit permute), the ragged right and bottom edges element by element.
    ///
    /// # Safety
    /// As [`super::transpose_strip_scalar`]; the CPU must support AVX.
    #[target_feature(enable = "avx")]
    pub(super) unsafe fn transpose_strip_avx(
        src: *const f32,
        ss: usize,
        w: usize,
        kc: usize,
        dst: *mut f32,
        ds: usize,
    ) {
        // SAFETY: blocks cover r0..r0+8 <= w and p0..p0+8 <= kc; the rest is delegated with
        // sub-strips inside the same bounds (the caller's contract).
        unsafe {
            let (w8, k8) = (w / 8 * 8, kc / 8 * 8);
            for r0 in (0..w8).step_by(8) {
                let s = src.add(r0 * ss);
                for p0 in (0..k8).step_by(8) {
                    let row = |i: usize| _mm256_loadu_ps(s.add(i * ss + p0));
                    let (x0, x1, x2, x3) = (row(0), row(1), row(2), row(3));
                    let (x4, x5, x6, x7) = (row(4), row(5), row(6), row(7));
                    // Interleave pairs of rows, then pairs of pairs: each 128-bit lane ends up
                    // holding 4 consecutive rows of one column.
                    let t0 = _mm256_unpacklo_ps(x0, x1);
                    let t1 = _mm256_unpackhi_ps(x0, x1);
                    let t2 = _mm256_unpacklo_ps(x2, x3);
                    let t3 = _mm256_unpackhi_ps(x2, x3);
                    let t4 = _mm256_unpacklo_ps(x4, x5);
                    let t5 = _mm256_unpackhi_ps(x4, x5);
                    let t6 = _mm256_unpacklo_ps(x6, x7);
                    let t7 = _mm256_unpackhi_ps(x6, x7);
                    let u0 = _mm256_shuffle_ps::<0x44>(t0, t2);
                    let u1 = _mm256_shuffle_ps::<0xEE>(t0, t2);
                    let u2 = _mm256_shuffle_ps::<0x44>(t1, t3);
                    let u3 = _mm256_shuffle_ps::<0xEE>(t1, t3);
                    let u4 = _mm256_shuffle_ps::<0x44>(t4, t6);
                    let u5 = _mm256_shuffle_ps::<0xEE>(t4, t6);
                    let u6 = _mm256_shuffle_ps::<0x44>(t5, t7);
                    let u7 = _mm256_shuffle_ps::<0xEE>(t5, t7);
                    let d = dst.add(p0 * ds + r0);
                    _mm256_storeu_ps(d, _mm256_permute2f128_ps::<0x20>(u0, u4));
                    _mm256_storeu_ps(d.add(ds), _mm256_permute2f128_ps::<0x20>(u1, u5));
                    _mm256_storeu_ps(d.add(2 * ds), _mm256_permute2f128_ps::<0x20>(u2, u6));
                    _mm256_storeu_ps(d.add(3 * ds), _mm256_permute2f128_ps::<0x20>(u3, u7));
                    _mm256_storeu_ps(d.add(4 * ds), _mm256_permute2f128_ps::<0x31>(u0, u4));
                    _mm256_storeu_ps(d.add(5 * ds), _mm256_permute2f128_ps::<0x31>(u1, u5));
                    _mm256_storeu_ps(d.add(6 * ds), _mm256_permute2f128_ps::<0x31>(u2, u6));
                    _mm256_storeu_ps(d.add(7 * ds), _mm256_permute2f128_ps::<0x31>(u3, u7));
                }
                // p in k8..kc for these 8 rows.
                super::transpose_strip_scalar(s.add(k8), ss, 8, kc - k8, dst.add(k8 * ds + r0), ds);
            }
            // Rows w8..w, all p.
            super::transpose_strip_scalar(src.add(w8 * ss), ss, w - w8, kc, dst.add(w8), ds);
        }
    }

    /// `direct_body` compiled for AVX2 + FMA.
    ///
    /// # Safety
    /// The CPU must support AVX2 and FMA.
    #[target_feature(enable = "avx2,fma")]
    pub(super) unsafe fn direct_avx2_fma(g: &super::Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
        super::direct_body(g, a, b, c)
    }

    /// `direct_body` compiled for AVX-512F.
    ///
    /// # Safety
    /// The CPU must support AVX-512F.
    #[target_feature(enable = "avx512f")]
    pub(super) unsafe fn direct_avx512(g: &super::Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
        super::direct_body(g, a, b, c)
    }
}

#[cfg(target_arch = "aarch64")]
mod arm {
    use super::{microkernel_body, Kernel, Simd, Tile};
    use std::arch::aarch64::*;

    /// NEON, 4 lanes (part of the aarch64 baseline).
    pub(super) struct Neon;

    impl Simd for Neon {
        type V = float32x4_t;
        const LANES: usize = 4;
        #[inline(always)]
        unsafe fn zero() -> float32x4_t {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { vdupq_n_f32(0.0) }
        }
        #[inline(always)]
        unsafe fn splat(x: f32) -> float32x4_t {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { vdupq_n_f32(x) }
        }
        #[inline(always)]
        unsafe fn load(p: *const f32) -> float32x4_t {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe {
                // SAFETY: the caller passes a pointer to 4 readable floats.
                vld1q_f32(p)
            }
        }
        #[inline(always)]
        unsafe fn store(p: *mut f32, v: float32x4_t) {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe {
                // SAFETY: the caller passes a pointer to 4 writable floats.
                vst1q_f32(p, v)
            }
        }
        #[inline(always)]
        unsafe fn mul_add(a: float32x4_t, b: float32x4_t, c: float32x4_t) -> float32x4_t {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe {
                // vfmaq_f32(c, a, b) = c + a * b, fused.
                vfmaq_f32(c, a, b)
            }
        }
        #[inline(always)]
        unsafe fn mul(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { vmulq_f32(a, b) }
        }
        #[inline(always)]
        unsafe fn add(a: float32x4_t, b: float32x4_t) -> float32x4_t {
            // SAFETY: the `Simd` contract (ISA present, pointer valid for LANES floats).
            unsafe { vaddq_f32(a, b) }
        }
    }

    /// NEON microkernel, MR×8 (2 q registers per row; 16 accumulators of 32 registers).
    ///
    /// # Safety
    /// As [`microkernel_body`].
    #[target_feature(enable = "neon")]
    pub(super) unsafe fn microkernel_neon<const MR: usize>(
        kc: usize,
        a: *const f32,
        b: *const f32,
        t: &Tile,
    ) {
        // SAFETY: the caller upholds this function's `# Safety` contract.
        unsafe { microkernel_body::<Neon, MR, 2>(kc, a, b, t) }
    }

    pub(super) static KERNELS_NEON: [Kernel; 3] = [
        Kernel {
            mr: 8,
            nr: 8,
            f: microkernel_neon::<8>,
        },
        Kernel {
            mr: 6,
            nr: 8,
            f: microkernel_neon::<6>,
        },
        Kernel {
            mr: 4,
            nr: 8,
            f: microkernel_neon::<4>,
        },
    ];
}

/// The microkernels available for `isa` (which must be supported), best first.
fn kernel_menu(isa: Isa) -> &'static [Kernel] {
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => &x86::KERNELS_AVX512,
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => &x86::KERNELS_AVX2_FMA,
        #[cfg(target_arch = "aarch64")]
        Isa::Neon => &arm::KERNELS_NEON,
        _ => &KERNELS_PORTABLE,
    }
}

// ---------------------------------------------------------------------------------------------
// Planning, packing and the blocked driver.
// ---------------------------------------------------------------------------------------------

/// Which microkernel runs and whether the product is computed as `C^T = op(B)^T op(A)^T`.
struct Plan {
    kernel: &'static Kernel,
    swapped: bool,
}

/// Picks the orientation and MR that waste the least work. The cost is the padded tile area
/// (zero padding is computed like real work), times `1 + 1/MR` (a small MR loads B more often
/// per FMA), times `1 + store/kc` for the C update each KC chunk ends with: about 2 vector
/// operations per vector of C normally, but ~16 (one per element) when swapped, because C^T
/// tiles are written element by element. Depends only on the shape, so the plan (and hence
/// every result bit) is the same for any thread count.
fn plan(isa: Isa, m: usize, n: usize, k: usize) -> Plan {
    let kc = k.min(KC) as f64;
    let mut best: Option<(f64, Plan)> = None;
    for swapped in [false, true] {
        let (rows, cols) = if swapped { (n, m) } else { (m, n) };
        let store = if swapped { 16.0 } else { 2.0 };
        for kernel in kernel_menu(isa) {
            let padded = (rows.div_ceil(kernel.mr) * kernel.mr) as f64
                * (cols.div_ceil(kernel.nr) * kernel.nr) as f64;
            let cost = padded * (1.0 + 1.0 / kernel.mr as f64) * (1.0 + store / kc);
            if best.as_ref().is_none_or(|(c, _)| cost < *c) {
                best = Some((cost, Plan { kernel, swapped }));
            }
        }
    }
    best.expect("every kernel menu is non-empty").1
}

/// Packing buffers of one worker: grown on demand, returned to [`POOL`] after each call so
/// that repeated products (a training loop) allocate nothing.
#[derive(Default)]
struct PackBufs {
    a: Vec<f32>,
    b: Vec<f32>,
}

static POOL: Mutex<Vec<PackBufs>> = Mutex::new(Vec::new());

fn with_pack_bufs<R>(f: impl FnOnce(&mut PackBufs) -> R) -> R {
    let mut bufs = POOL
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .pop()
        .unwrap_or_default();
    let r = f(&mut bufs);
    POOL.lock().unwrap_or_else(|e| e.into_inner()).push(bufs);
    r
}

/// A 64-byte aligned region of at least `len` floats inside `v` (grown if needed).
fn aligned_region(v: &mut Vec<f32>, len: usize) -> *mut f32 {
    const PAD: usize = 16; // 16 floats = 64 bytes of slack for the alignment shift
    if v.len() < len + PAD {
        v.resize(len + PAD, 0.0);
    }
    let p = v.as_mut_ptr();
    let shift = (64 - (p as usize) % 64) % 64 / std::mem::size_of::<f32>();
    // SAFETY: shift < PAD and the vector holds len + PAD floats.
    unsafe { p.add(shift) }
}

/// A transposing copy of a strip: `dst[p*ds + r] = src[r*ss + p]` for `r < w`, `p < kc`.
///
/// Packing a row-major A into MR-row panels, or a transposed operand into NR-column panels,
/// is such a transpose; done element by element it costs more than a small product itself.
type TransposeFn = unsafe fn(*const f32, usize, usize, usize, *mut f32, usize);

/// Element-by-element [`TransposeFn`], four source rows at a time (four read streams).
///
/// # Safety
/// `src[r*ss + p]` readable and `dst[p*ds + r]` writable for `r < w`, `p < kc`.
unsafe fn transpose_strip_scalar(
    src: *const f32,
    ss: usize,
    w: usize,
    kc: usize,
    dst: *mut f32,
    ds: usize,
) {
    // SAFETY: every index below has r < w and p < kc (the caller's contract).
    unsafe {
        let mut r = 0;
        while r + 4 <= w {
            let s0 = src.add(r * ss);
            let (s1, s2, s3) = (s0.add(ss), s0.add(2 * ss), s0.add(3 * ss));
            for p in 0..kc {
                let dp = dst.add(p * ds + r);
                *dp = *s0.add(p);
                *dp.add(1) = *s1.add(p);
                *dp.add(2) = *s2.add(p);
                *dp.add(3) = *s3.add(p);
            }
            r += 4;
        }
        for r in r..w {
            let s = src.add(r * ss);
            for p in 0..kc {
                *dst.add(p * ds + r) = *s.add(p);
            }
        }
    }
}

/// `dst[..len] = src[..len]` and `dst[len..width] = 0`, as inline 8-float moves: a memcpy
/// call per packed row of 10 to 32 floats would cost more than the copy itself.
///
/// # Safety
/// `src[..len]` readable, `dst[..width]` writable, `len <= width`.
#[inline(always)]
unsafe fn copy_padded(src: *const f32, dst: *mut f32, len: usize, width: usize) {
    // SAFETY: every access has index < len (reads) or < width (writes).
    unsafe {
        let mut i = 0;
        while i + 8 <= len {
            let x = (src.add(i) as *const [f32; 8]).read_unaligned();
            (dst.add(i) as *mut [f32; 8]).write_unaligned(x);
            i += 8;
        }
        while i < len {
            *dst.add(i) = *src.add(i);
            i += 1;
        }
        while i < width {
            *dst.add(i) = 0.0;
            i += 1;
        }
    }
}

/// Packs the `rows × kc` block of `a` into MR-row micro-panels: panel q holds
/// `dst[q*MR*kc + p*MR + r] = a(q*MR + r, p)`, rows past `rows` zero.
///
/// # Safety
/// `a` views at least `rows × kc` elements, with `rs == 1` or `cs == 1`; `dst` holds
/// `ceil(rows/MR)*MR*kc` floats.
unsafe fn pack_a(tr: TransposeFn, mr: usize, a: MatRef, rows: usize, kc: usize, dst: *mut f32) {
    // SAFETY: the caller upholds this function's `# Safety` contract; panel q spans
    // dst[q*mr*kc .. (q+1)*mr*kc] and reads rows i0..i0+h < rows.
    unsafe {
        for (q, i0) in (0..rows).step_by(mr).enumerate() {
            let d = dst.add(q * mr * kc);
            let h = mr.min(rows - i0);
            if a.rs == 1 {
                // Column p of the panel is contiguous in the source.
                for p in 0..kc {
                    copy_padded(a.ptr.add(i0 + p * a.cs), d.add(p * mr), h, mr);
                }
            } else {
                // Rows contiguous (cs == 1): a transpose into the panel.
                debug_assert_eq!(a.cs, 1);
                tr(a.ptr.add(i0 * a.rs), a.rs, h, kc, d, mr);
                if h < mr {
                    for p in 0..kc {
                        std::ptr::write_bytes(d.add(p * mr + h), 0, mr - h);
                    }
                }
            }
        }
    }
}

/// Packs the `kc × cols` block of `b` into NR-column micro-panels: panel q holds
/// `dst[q*NR*kc + p*NR + j] = b(p, q*NR + j)`, columns past `cols` zero.
///
/// # Safety
/// `b` views at least `kc × cols` elements, with `rs == 1` or `cs == 1`; `dst` holds
/// `ceil(cols/NR)*NR*kc` floats.
unsafe fn pack_b(tr: TransposeFn, nr: usize, b: MatRef, kc: usize, cols: usize, dst: *mut f32) {
    // SAFETY: the caller upholds this function's `# Safety` contract; panel q spans
    // dst[q*nr*kc .. (q+1)*nr*kc] and reads columns j0..j0+w < cols.
    unsafe {
        for (q, j0) in (0..cols).step_by(nr).enumerate() {
            let d = dst.add(q * nr * kc);
            let w = nr.min(cols - j0);
            if b.cs == 1 {
                // Row p of the panel is contiguous in the source.
                for p in 0..kc {
                    copy_padded(b.ptr.add(p * b.rs + j0), d.add(p * nr), w, nr);
                }
            } else {
                // Columns contiguous (rs == 1): a transpose into the panel.
                debug_assert_eq!(b.rs, 1);
                tr(b.ptr.add(j0 * b.cs), b.cs, w, kc, d, nr);
                if w < nr {
                    for p in 0..kc {
                        std::ptr::write_bytes(d.add(p * nr + w), 0, nr - w);
                    }
                }
            }
        }
    }
}

/// One worker's share: `C (m×n) = alpha * A (m×k) * B (k×n) + beta * C` through the blocked
/// loops described in the module docs.
///
/// # Safety
/// The views cover m×k, k×n and m×n elements; C's block is written by this worker only.
#[allow(clippy::too_many_arguments)]
unsafe fn blocked(
    kernel: &Kernel,
    tr: TransposeFn,
    (m, k, n): (usize, usize, usize),
    a: MatRef,
    b: MatRef,
    c: MatMut,
    alpha: f32,
    beta: f32,
    bufs: &mut PackBufs,
) {
    // SAFETY: the caller upholds this function's `# Safety` contract.
    unsafe {
        let (mr, nr) = (kernel.mr, kernel.nr);
        let k_chunks = k.div_ceil(KC);
        let kc_max = k.div_ceil(k_chunks);
        let mc_max = (MC / mr) * mr;
        let nc_max = (NC / nr) * nr;
        let a_pack = aligned_region(&mut bufs.a, m.min(mc_max).div_ceil(mr) * mr * kc_max);
        let b_pack = aligned_region(&mut bufs.b, n.min(nc_max).div_ceil(nr) * nr * kc_max);
        for ic in (0..m).step_by(mc_max) {
            let mc = mc_max.min(m - ic);
            for pc in (0..k).step_by(kc_max) {
                let kc = kc_max.min(k - pc);
                // Chunks after the first add to what the earlier chunks wrote.
                let beta_here = if pc == 0 { beta } else { 1.0 };
                pack_a(tr, mr, a.at(ic, pc), mc, kc, a_pack);
                for jc in (0..n).step_by(nc_max) {
                    let nc = nc_max.min(n - jc);
                    pack_b(tr, nr, b.at(pc, jc), kc, nc, b_pack);
                    for ir in (0..mc).step_by(mr) {
                        // SAFETY: panel ir/mr of the packed A block (mr*kc floats).
                        let ap = a_pack.add(ir * kc);
                        for jr in (0..nc).step_by(nr) {
                            let tile = Tile {
                                c: c.at(ic + ir, jc + jr),
                                rows: mr.min(mc - ir),
                                cols: nr.min(nc - jr),
                                alpha,
                                beta: beta_here,
                            };
                            // SAFETY: panel jr/nr of the packed B block; the tile's clipped
                            // corner lies inside this worker's C block.
                            (kernel.f)(kc, ap, b_pack.add(jr * kc), &tile);
                        }
                    }
                }
            }
        }
    }
}

/// The packed path: plan, split C over threads (never K), run [`blocked`] per worker.
fn packed(isa: Isa, threads: usize, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    let (m, k, n) = (g.m, g.k, g.n);
    // Views of op(A) (m×k), op(B) (k×n) and C (m×n).
    let av = if g.trans_a {
        MatRef {
            ptr: a.as_ptr(),
            rs: 1,
            cs: m,
        }
    } else {
        MatRef {
            ptr: a.as_ptr(),
            rs: k,
            cs: 1,
        }
    };
    let bv = if g.trans_b {
        MatRef {
            ptr: b.as_ptr(),
            rs: 1,
            cs: k,
        }
    } else {
        MatRef {
            ptr: b.as_ptr(),
            rs: n,
            cs: 1,
        }
    };
    let cv = MatMut {
        ptr: c.as_mut_ptr(),
        rs: n,
        cs: 1,
    };
    let plan = plan(isa, m, n, k);
    // C^T (n×m) = op(B)^T (n×k) * op(A)^T (k×m): the same memory with swapped strides.
    let (rows, cols, av, bv, cv) = if plan.swapped {
        let ct = MatMut {
            ptr: cv.ptr,
            rs: cv.cs,
            cs: cv.rs,
        };
        (n, m, bv.t(), av.t(), ct)
    } else {
        (m, n, av, bv, cv)
    };
    let kernel = plan.kernel;
    let tr: TransposeFn = match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 | Isa::Avx2Fma => x86::transpose_strip_avx,
        _ => transpose_strip_scalar,
    };
    let threads = threads.min(g.macs() / MIN_MACS_PER_THREAD).max(1);

    // Split the larger dimension into `threads` runs of whole micro-tiles.
    let split_rows = rows.div_ceil(kernel.mr) >= cols.div_ceil(kernel.nr);
    let (len, unit) = if split_rows {
        (rows, kernel.mr)
    } else {
        (cols, kernel.nr)
    };
    let units = len.div_ceil(unit);
    let threads = threads.min(units);
    let share = |t: usize| -> (usize, usize) {
        let lo = (units * t / threads) * unit;
        let hi = ((units * (t + 1) / threads) * unit).min(len);
        (lo, hi)
    };
    let run = |t: usize| {
        let (lo, hi) = share(t);
        // SAFETY: (lo, 0) / (0, lo) lies inside the views; worker t writes only rows (or
        // columns) lo..hi of C, disjoint from every other worker's.
        unsafe {
            let (dims, a_t, b_t, c_t) = if split_rows {
                ((hi - lo, k, cols), av.at(lo, 0), bv, cv.at(lo, 0))
            } else {
                ((rows, k, hi - lo), av, bv.at(0, lo), cv.at(0, lo))
            };
            with_pack_bufs(|bufs| blocked(kernel, tr, dims, a_t, b_t, c_t, g.alpha, g.beta, bufs));
        }
    };
    if threads == 1 {
        run(0);
    } else {
        std::thread::scope(|s| {
            for t in 1..threads {
                s.spawn(move || run(t));
            }
            run(0);
        });
    }
}

// ---------------------------------------------------------------------------------------------
// Direct (unpacked) path for tiny, one-row and one-column products.
// ---------------------------------------------------------------------------------------------

fn direct(isa: Isa, g: &Gemm, a: &[f32], b: &[f32], c: &mut [f32]) {
    match isa {
        // SAFETY: `isa` is supported (checked by `sgemm_with`), so are its instructions.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { x86::direct_avx512(g, a, b, c) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { x86::direct_avx2_fma(g, a, b, c) },
        _ => direct_body(g, a, b, c),
    }
}

/// Dot product with 16 independent partial sums (so it vectorizes without reassociating a
/// single chain), summed pairwise at the end.
#[inline(always)]
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
