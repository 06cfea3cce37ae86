//! Direct stride-1 convolution kernels: the forward pass and the input gradient computed from
//! a zero-padded copy of the input (or of the output gradient) with register tiles, without
//! the im2col column matrix, its col2im fold, or sgemm's packing.
//!
//! ## Flat shifts
//!
//! With stride 1, pad the input plane to `hp × wp` (`hp = h + 2p`, `wp = w + 2p`, zeros
//! around). Output `(i, j)` reads `xp[(i+u)·wp + j+v]`; write `q = i·wp + j`, a position on
//! the padded-width output grid: it reads `xp[q + u·wp + v]`. So for every tap `(u, v)` a run
//! of consecutive `q` reads a *contiguous* run of `xp`, shifted by `u·wp + v`: one vector
//! load per tap for `W` outputs, whatever the image width. Positions with `j >= ow` (the
//! `kw - 1` columns past each output row) are computed and discarded (12% of a 14-wide image,
//! 3% of the ENN's 58-wide one), which wastes less than row tiles padded to the vector width.
//! The input gradient is the same with the roles swapped: input pixel `(y, x)` at
//! `q = y·wq + x` collects tap `(u, v)` from `dyp[q + (p+kh-1-u)·wq + (p+kw-1-v)]`, the output
//! gradient placed at row offset `kh - 1`, column offset `kw - 1` of a zero-padded grid.
//!
//! ## Same bits as the im2col path
//!
//! The results of [`super::conv`]'s im2col kernels feed the experiments, so these kernels
//! reproduce their rounding exactly rather than only closely:
//!
//! * im2col + packed sgemm ([`Rounding::Packed`]) with the reduction in one K chunk: each
//!   output is `acc + b`, `acc` one chain over `(c, u, v)` in that order from 0, padded taps
//!   included as `w · 0`, fused multiply-adds except on [`Isa::Portable`] (multiply, add);
//! * im2col + `small::acc_nn` ([`Rounding::Tiles`], reductions up to 16): the same inside
//!   its 4-row × 16-column register tiles, while the leftover rows (`c_out mod 4`) and the
//!   leftover columns of the flat `c_out × P` output (`P mod 16`) run its axpy form, a chain
//!   that starts at the bias; those are recomputed so at the end (fused on AVX2/AVX-512);
//! * sgemm's unpacked small path ([`Rounding::Unfused`], tiny products): chains from 0
//!   with a separate multiply and add on every ISA.
//!
//! The input gradient is `Σ_{(u,v)} t_uv` added onto the old gradient tap by tap in
//! `(u, v)` order (col2im's order), `t_uv` one chain over the output channels from 0 (the
//! product `Wᵀ dY`). Taps that fall outside the output grid read zeros here, where col2im
//! skips them: `t = 0·w = +0`, and adding +0 changes nothing unless the running sum is −0,
//! which needs a −0 starting gradient and every real tap underflowing to −0; and a ±∞/NaN
//! weight would poison it (`∞·0`). Neither happens with finite weights and fresh adjoints;
//! tests check bit equality with the im2col path on the ENN's shapes and random ones.
//!
//! ## Memory traffic
//!
//! A tile stores its pixels straight from the registers with one masked store per image
//! row its positions touch (the input gradient loads its running sums likewise): no staging
//! buffer, no short `memcpy`s. The padded planes are written whole, zeros included, with
//! masked loads of the pixels and full vector stores (`place_planes`), so the scratch is
//! never zero-filled; planes are only as tall as the valid positions read, and the lanes of
//! a plane's last tile past its last pixel read the next plane (or the slack after the last),
//! whose values they discard.
//!
//! ## Files
//!
//! * `lanes`: the vector operations every register tile is written in (the `Simd` lanes of
//!   sgemm's microkernel: AVX-512, AVX2, portable arrays), with an unfused variant and the
//!   masked lane loads and stores;
//! * `forward`, `input_grad`, `weight_grad`: one product each: its operands, its tile (one
//!   generic body for every ISA and rounding), the per-ISA entry points and the public
//!   `*_with` function.

mod forward;
mod input_grad;
mod lanes;
mod weight_grad;

pub use forward::conv2d_forward_direct_with;
pub use input_grad::conv2d_backward_input_direct_with;
pub use weight_grad::conv2d_backward_weight_direct_with;

use super::conv::Conv2dGeometry;
use super::isa::Isa;
use lanes::Pixels;
use std::cell::RefCell;

/// Which im2col product's rounding a direct kernel reproduces (see the module docs).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rounding {
    /// Packed sgemm, one K chunk: chains from 0, fused unless the ISA is portable.
    Packed,
    /// `small::acc_nn`: register tiles like `Packed`; its axpy edges chain from the bias
    /// (forward only; the input gradient starts every chain at 0 either way). Fused on
    /// AVX2 / AVX-512 only.
    Tiles,
    /// sgemm's unpacked path: chains from 0 (forward: from the bias), multiply then add.
    Unfused,
}

impl Rounding {
    /// Whether the products are fused multiply-adds on `isa`.
    pub fn fused(self, isa: Isa) -> bool {
        match self {
            Rounding::Packed => isa != Isa::Portable,
            Rounding::Tiles => matches!(isa, Isa::Avx2Fma | Isa::Avx512),
            Rounding::Unfused => false,
        }
    }
}

/// Whether the direct kernels handle `g`: stride 1, non-empty input and output.
pub fn applies(g: &Conv2dGeometry) -> bool {
    g.stride == 1 && g.output_len() > 0 && g.input_len() > 0 && g.weight_len() > 0
}

/// `isa` if supported, else the best supported one.
fn usable(isa: Isa) -> Isa {
    if isa.is_supported() {
        isa
    } else {
        super::isa::best()
    }
}

thread_local! {
    /// Per-thread padded copy and re-laid weights, grown on demand and kept.
    static SCRATCH: RefCell<(Vec<f32>, Vec<f32>)> = const { RefCell::new((Vec::new(), Vec::new())) };
}

/// Runs `f` with two scratch slices (padded data, weights) of the given lengths. Their
/// contents are stale (whatever the last call left): the kernels write every float they read
/// ([`place_planes`] writes the padding too), so no call pays for zeroing them.
fn with_scratch<R>(lens: (usize, usize), f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    let run = |a: &mut Vec<f32>, b: &mut Vec<f32>| {
        a.resize(lens.0, 0.0);
        b.resize(lens.1, 0.0);
        // Debug builds poison them: a float read before it is written turns outputs NaN.
        if cfg!(debug_assertions) {
            a.fill(f32::NAN);
            b.fill(f32::NAN);
        }
        f(&mut a[..lens.0], &mut b[..lens.1])
    };
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut bufs) => {
            let (a, b) = &mut *bufs;
            run(a, b)
        }
        Err(_) => run(&mut Vec::new(), &mut Vec::new()),
    })
}

/// `acc + a·b`, one rounding (`FUSED`) or two.
#[inline(always)]
fn madd<const FUSED: bool>(acc: f32, a: f32, b: f32) -> f32 {
    if FUSED {
        a.mul_add(b, acc)
    } else {
        acc + a * b
    }
}

/// The widest tile any ISA uses (lanes of the narrow-channel remainder tiles); scratch
/// buffers carry this much slack so that a tile may read past the last position.
const MAX_W: usize = 128;

/// Where tap `t = (c·kh + u)·kw + v` starts in a padded input of `c_in` planes of `plane`
/// floats with row stride `wp`: `c·plane + u·wp + v` (one flat loop over the taps in the
/// tiles, no nested short loops).
fn tap_offsets(g: &Conv2dGeometry, plane: usize, wp: usize) -> Vec<usize> {
    (0..g.c_in)
        .flat_map(|c| (0..g.kh).flat_map(move |u| (0..g.kw).map(move |v| (c, u, v))))
        .map(|(c, u, v)| c * plane + u * wp + v)
        .collect()
}

/// Copies sample `x_b` (`c_in × h × w`) into the interior of its zero-padded planes `xp`
/// (`plane` floats each, a multiple of the row stride `wp`, the image at row and column
/// `pad`; `xp` holds at least 16 floats more than the planes, see [`place_planes`]).
fn pad_input(
    isa: Isa,
    g: &Conv2dGeometry,
    x_b: &[f32],
    (plane, wp): (usize, usize),
    xp: &mut [f32],
) {
    place_planes(isa, x_b, (g.h, g.w), (plane, wp, g.pad * wp + g.pad), xp);
}

/// Writes the planes of `src` (`rows × width` each, row-major) into `dst` as planes of
/// `plane` floats (a multiple of `stride`), row `r` at `at + r·stride` (`at % stride + width
/// <= stride`), and zeros everywhere else in the planes (the padding the tiles read): whole
/// vectors on `isa` (supported), each padded row from masked loads of its pixels. `dst`
/// holds at least 16 floats past the planes, which the last row's vectors may overwrite.
///
/// # Panics
/// If the layout does not fit as stated.
fn place_planes(
    isa: Isa,
    src: &[f32],
    dims: (usize, usize),
    layout: (usize, usize, usize),
    dst: &mut [f32],
) {
    let ((rows, width), (plane, stride, at)) = (dims, layout);
    assert!(stride > 0 && plane % stride == 0 && at % stride + width <= stride);
    assert!(at / stride + rows <= plane / stride && rows * width > 0);
    assert!(src.len() / (rows * width) * plane + 16 <= dst.len());
    // SAFETY (each arm): the entry's target features are those of `isa`, supported (the
    // callers pass a `usable` ISA; AVX-512 implies AVX2 + FMA there).
    match isa {
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { place_avx512(src, dims, layout, dst) },
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { place_avx2(src, dims, layout, dst) },
        _ => unsafe { place_lanes::<lanes::Portable>(src, dims, layout, dst) },
    }
}

/// [`place_planes`] on AVX-512 lanes.
///
/// # Safety
/// The CPU must support AVX-512F; the layout as `place_planes` checks it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn place_avx512(src: &[f32], dims: (usize, usize), layout: Layout, dst: &mut [f32]) {
    // SAFETY: this function's contract.
    unsafe { place_lanes::<lanes::Zmm>(src, dims, layout, dst) }
}

/// [`place_planes`] on AVX2 lanes.
///
/// # Safety
/// The CPU must support AVX2; the layout as `place_planes` checks it.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn place_avx2(src: &[f32], dims: (usize, usize), layout: Layout, dst: &mut [f32]) {
    // SAFETY: this function's contract.
    unsafe { place_lanes::<lanes::Ymm>(src, dims, layout, dst) }
}

/// `(plane, stride, at)` of [`place_planes`].
type Layout = (usize, usize, usize);

/// The body of [`place_planes`]: every padded row as whole vectors, each vector the row's
/// pixels it covers (a masked load) and zeros; a row's last vector may run into the next row,
/// which is written after it.
///
/// # Safety
/// The CPU must support `S`'s instructions; the layout as `place_planes` checks it.
#[inline(always)]
unsafe fn place_lanes<S: Pixels>(
    src: &[f32],
    (rows, width): (usize, usize),
    (plane, stride, at): Layout,
    dst: &mut [f32],
) {
    let (l, row0, col0) = (S::LANES, at / stride, at % stride);
    for (c, s) in src.chunks_exact(rows * width).enumerate() {
        for pr in 0..plane / stride {
            let d = dst.as_mut_ptr().wrapping_add(c * plane + pr * stride);
            let r = pr.wrapping_sub(row0);
            for n in (0..stride).step_by(l) {
                // SAFETY: the CPU supports S (this function's contract).
                let mut v = unsafe { S::zero() };
                let (lo, hi) = (
                    col0.saturating_sub(n).min(l),
                    (col0 + width).saturating_sub(n),
                );
                if r < rows && lo < hi.min(l) {
                    // Lane j is column n + j - col0 of row r: inside it for j in lo .. hi.
                    let p = s.as_ptr().wrapping_add(r * width + n).wrapping_sub(col0);
                    // SAFETY: as above; lanes lo .. hi are pixels of row r of `s`.
                    v = unsafe { S::load_lanes(p, v, (lo, hi.min(l))) };
                }
                // SAFETY: c·plane + pr·stride + n + LANES <= (c+1)·plane + LANES - 1 <=
                // dst.len() (the layout checked by `place_planes`: 16 >= LANES floats past).
                unsafe { S::store(d.add(n), v) };
            }
        }
    }
}

/// The blocking of the input gradient's tiles of one sample: `(c0, q0, true)` for every block
/// of `block` channels from `c0` and `w` flat positions from `q0 < q_len`, then `(c, q0, false)`
/// for each leftover channel with `w1` positions. (An iterator rather than a loop taking the
/// tile bodies as closures: a closure would not carry the callers' target features, and its
/// intrinsics might then not be inlined.)
fn tile_starts(
    (channels, q_len): (usize, usize),
    (block, w, w1): (usize, usize, usize),
) -> impl Iterator<Item = (usize, usize, bool)> {
    let full = channels / block * block;
    // Positions outside channels: one position block's window of the padded planes stays in
    // L1 for all channel blocks.
    let blocks = (0..q_len)
        .step_by(w)
        .flat_map(move |q0| (0..full).step_by(block).map(move |c0| (c0, q0, true)));
    let rest =
        (full..channels).flat_map(move |c| (0..q_len).step_by(w1).map(move |q0| (c, q0, false)));
    blocks.chain(rest)
}

/// Stores the lanes of `v`, flat positions `q .. q + S::LANES` (`q = row·stride + col`), that
/// are pixels of the `rows × width` plane `plane` into it: one masked store per plane row
/// the positions touch (two when `stride >= LANES`), lanes `lo .. hi` of row `r` being its
/// columns `q + lo - r·stride ..`. (Plain loops: a closure here would not carry the callers'
/// target features, and the masked intrinsics would not be inlined.)
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn store_pixels<S: Pixels>(
    v: S::V,
    q: usize,
    (rows, width, stride): (usize, usize, usize),
    plane: &mut [f32],
) {
    assert!(rows * width <= plane.len());
    let end = rows.min((q + S::LANES).div_ceil(stride));
    for r in q / stride..end {
        let (lo, hi) = (
            (r * stride).max(q) - q,
            (r * stride + width).min(q + S::LANES),
        );
        if lo + q < hi {
            // Lane l goes to plane[r·width + q + l - r·stride], inside row r for l in lo .. hi.
            let p = plane
                .as_mut_ptr()
                .wrapping_add(r * width + q)
                .wrapping_sub(r * stride);
            // SAFETY: lanes lo .. hi are columns 0 .. width of row r < rows, inside `plane`
            // (asserted above); the CPU supports S (this function's contract).
            unsafe { S::store_lanes(p, v, (lo, hi - q)) };
        }
    }
}

/// The lanes of flat positions `q ..` that are pixels of `plane` (as [`store_pixels`]),
/// the others zero.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn load_pixels<S: Pixels>(
    q: usize,
    (rows, width, stride): (usize, usize, usize),
    plane: &[f32],
) -> S::V {
    assert!(rows * width <= plane.len());
    // SAFETY: the CPU supports S (this function's contract).
    let mut v = unsafe { S::zero() };
    let end = rows.min((q + S::LANES).div_ceil(stride));
    for r in q / stride..end {
        let (lo, hi) = (
            (r * stride).max(q) - q,
            (r * stride + width).min(q + S::LANES),
        );
        if lo + q < hi {
            let p = plane
                .as_ptr()
                .wrapping_add(r * width + q)
                .wrapping_sub(r * stride);
            // SAFETY: as in `store_pixels`.
            unsafe { v = S::load_lanes(p, v, (lo, hi - q)) };
        }
    }
    v
}
