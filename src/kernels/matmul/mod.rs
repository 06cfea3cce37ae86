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
//! packing altogether ([`small::direct_with`]).
//!
//! Packing pays only when a packed element is used many times. In the small products of a
//! training step (batch 32-128) an A panel meets only a few B panels, so `blocked` reads such
//! an operand where it lies instead (any strides for A, whose elements are broadcast; unit
//! column stride for B, whose rows are vector loads), packing only a ragged last panel; the
//! microkernel then runs with the operand's own strides. The bits are the same either way.

//!
//! # Where each piece lives
//!
//! * this file: [`Gemm`], the entry points [`sgemm`] / [`sgemm_with`] and the routing between
//!   the unpacked and the packed path;
//! * [`reference`](mod@reference): [`matmul_reference`], the oracle;
//! * `pack`: strided views, packing into micro-panels, the per-worker buffers;
//! * `blocked`: the planner, the blocked loops and the thread policy;
//! * `threads`: the persistent worker pool;
//! * `micro`: the `Simd` abstraction and the one generic microkernel;
//! * `simd`: the per-ISA `Simd` implementations and microkernel menus;
//! * [`small`]: unpacked products (tiny / one-row / one-column sgemm, conv's short
//!   reductions), each with a `_with(isa, ..)` entry.

mod blocked;
mod micro;
mod pack;
pub mod reference;
mod simd;
pub mod small;
mod threads;

pub use blocked::{thread_count, WAKE_COST_MACS};
pub use reference::matmul_reference;

/// The microkernel's vector abstraction and its lanes, shared with the direct conv tiles
/// (`conv_direct`), which are written in the same operations.
pub(super) mod lanes {
    pub(in crate::kernels) use super::micro::Simd;
    #[cfg(target_arch = "x86_64")]
    pub(in crate::kernels) use super::simd::x86::{Avx2Fma as Ymm, Avx512 as Zmm};
    pub(in crate::kernels) use super::simd::Portable;
}

use super::isa::{self, Isa};

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
    if takes_packed(g) {
        blocked::packed(isa, threads.max(1), g, a, b, c);
    } else {
        small::direct_with(isa, g, a, b, c);
    }
}

/// Whether [`sgemm_with`] runs `g` through the packed path (else [`small::direct_with`]).
fn takes_packed(g: &Gemm) -> bool {
    !(g.m == 0 || g.n == 0 || g.k == 0 || g.m == 1 || g.n == 1 || g.macs() <= DIRECT_MAX_MACS)
}

/// The depth of the reduction chunks with which [`sgemm_with`] computes `g` on `isa` (an ISA
/// this CPU lacks counts as [`isa::best`]), or `None` when it takes the unpacked path.
///
/// Each element of C is then, chunk by chunk in order, one FMA chain over the chunk's p in
/// increasing order from zero, added as `C = alpha * acc + C` (`+ beta * C` for the first
/// chunk; nothing when beta = 0): a kernel that wants sgemm's exact bits (e.g. a direct
/// convolution) must follow that split. It depends on the machine's caches, the ISA and the
/// shape only, never on the thread count or the tile that runs.
pub fn packed_k_chunk(isa: Isa, g: &Gemm) -> Option<usize> {
    let isa = if isa.is_supported() { isa } else { isa::best() };
    takes_packed(g).then(|| blocked::k_chunk(isa, g.m, g.n, g.k))
}

/// Products with at most this many multiply-adds skip packing ([`small::direct_with`]):
/// packing's O(mk + kn) copies would cost as much as the O(mnk) product.
const DIRECT_MAX_MACS: usize = 16 * 1024;

/// [`sgemm_with`] through the packed path with the microkernel of tile `mr × nr` only (for
/// benchmarks that compare tile shapes, e.g. AVX2 6×16 vs 8×8 vs 4×24). Returns `false`, and
/// leaves C alone, when `isa` is unsupported or has no such tile.
///
/// # Panics
/// As [`sgemm_with`].
pub fn sgemm_with_tile(
    isa: Isa,
    threads: usize,
    (mr, nr): (usize, usize),
    g: &Gemm,
    a: &[f32],
    b: &[f32],
    c: &mut [f32],
) -> bool {
    assert_eq!(a.len(), g.m * g.k, "sgemm: A must hold m*k elements");
    assert_eq!(b.len(), g.k * g.n, "sgemm: B must hold k*n elements");
    assert_eq!(c.len(), g.m * g.n, "sgemm: C must hold m*n elements");
    let Some(kernel) = simd::kernel_with_tile(isa, mr, nr).filter(|_| isa.is_supported()) else {
        return false;
    };
    if g.m > 0 && g.n > 0 && g.k > 0 {
        blocked::packed_on_menu(
            isa,
            std::slice::from_ref(kernel),
            threads.max(1),
            g,
            a,
            b,
            c,
        );
    }
    true
}
