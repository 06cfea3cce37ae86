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
//! ## Files
//!
//! * `lanes`: the vector operations every register tile is written in (the `Simd` lanes of
//!   sgemm's microkernel: AVX-512, AVX2, portable arrays), with an unfused variant;
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

/// Runs `f` with two scratch slices (padded data, weights) of the given lengths, zeroed.
fn with_scratch<R>(lens: (usize, usize), f: impl FnOnce(&mut [f32], &mut [f32]) -> R) -> R {
    let run = |a: &mut Vec<f32>, b: &mut Vec<f32>| {
        a.clear();
        a.resize(lens.0, 0.0);
        b.clear();
        b.resize(lens.1, 0.0);
        f(a, b)
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
/// (`plane` floats each, row stride `wp`, the image at row and column `pad`).
fn pad_input(g: &Conv2dGeometry, x_b: &[f32], (plane, wp): (usize, usize), xp: &mut [f32]) {
    for (c, x_c) in x_b.chunks_exact(g.h * g.w).enumerate() {
        for (y, row) in x_c.chunks_exact(g.w).enumerate() {
            let at = c * plane + (y + g.pad) * wp + g.pad;
            xp[at..at + g.w].copy_from_slice(row);
        }
    }
}

/// The blocking shared by the tiles of one sample: `(c0, q0, true)` for every block of
/// `block` channels from `c0` and `w` flat positions from `q0 < q_len`, then `(c, q0, false)`
/// for each leftover channel with `w1` positions. (An iterator rather than a loop taking the
/// tile bodies as closures: a closure would not carry the callers' target features, and its
/// intrinsics might then not be inlined.)
fn tile_starts(
    (channels, q_len): (usize, usize),
    (block, w, w1): (usize, usize, usize),
) -> impl Iterator<Item = (usize, usize, bool)> {
    let full = channels / block * block;
    let blocks = (0..full)
        .step_by(block)
        .flat_map(move |c0| (0..q_len).step_by(w).map(move |q0| (c0, q0, true)));
    let rest =
        (full..channels).flat_map(move |c| (0..q_len).step_by(w1).map(move |q0| (c, q0, false)));
    blocks.chain(rest)
}

/// The runs of a tile's flat positions `q0 .. q0 + w` (`q = row·stride + col`) that are
/// pixels of a `rows × width` plane (`row < rows`, `col < width`), worked out once per tile
/// (two divisions) and walked once per channel of it ([`TileRuns::iter`]).
#[derive(Clone, Copy)]
struct TileRuns {
    width: usize,
    stride: usize,
    q0: usize,
    w: usize,
    /// The plane rows the tile touches.
    first: usize,
    end: usize,
}

impl TileRuns {
    #[inline(always)]
    fn new((rows, width, stride): (usize, usize, usize), q0: usize, w: usize) -> TileRuns {
        let (first, end) = (q0 / stride, rows.min((q0 + w).div_ceil(stride)));
        TileRuns {
            width,
            stride,
            q0,
            w,
            first,
            end,
        }
    }

    /// `(at, from, len)` per run, in increasing `q`: `at` the first pixel's index in the
    /// plane, `from` its offset in the tile.
    #[inline(always)]
    fn iter(self) -> impl Iterator<Item = (usize, usize, usize)> {
        let TileRuns {
            width,
            stride,
            q0,
            w,
            ..
        } = self;
        (self.first..self.end).filter_map(move |i| {
            let (lo, hi) = ((i * stride).max(q0), (i * stride + width).min(q0 + w));
            (lo < hi).then(|| (i * width + lo - i * stride, lo - q0, hi - lo))
        })
    }

    /// Copies the pixels of `tile` (position `q0 + n` at `tile[n]`) into `plane`.
    #[inline(always)]
    fn scatter(self, tile: &[f32], plane: &mut [f32]) {
        for (at, from, len) in self.iter() {
            plane[at..at + len].copy_from_slice(&tile[from..from + len]);
        }
    }

    /// Copies the tile's pixels of `plane` into `tile` (the inverse of [`TileRuns::scatter`];
    /// the other positions of `tile` are left as they are).
    #[inline(always)]
    fn gather(self, plane: &[f32], tile: &mut [f32]) {
        for (at, from, len) in self.iter() {
            tile[from..from + len].copy_from_slice(&plane[at..at + len]);
        }
    }
}
