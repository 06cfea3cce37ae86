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

// ---------------------------------------------------------------------------------------------
// Forward.
// ---------------------------------------------------------------------------------------------

/// One sample's forward operands: the padded input planes (`c_in` planes of `plane` floats,
/// row stride `wp`) and the weights re-laid as `wt[t * c_out + o]`, `t = (c·kh + u)·kw + v`.
struct Fwd<'a> {
    g: &'a Conv2dGeometry,
    xp: &'a [f32],
    plane: usize,
    wp: usize,
    wt: &'a [f32],
    /// Where tap `t = (c·kh + u)·kw + v` starts in `xp`: `c·plane + u·wp + v` (one flat loop
    /// over the taps, no nested short loops, in the AVX-512 tiles).
    taps: &'a [usize],
    bias: Option<&'a [f32]>,
    /// Start chains at the bias instead of adding it at the end.
    from_bias: bool,
}

/// `OB` output channels from `o0` × `W` flat positions from `q0` of one sample's output `y`
/// (`c_out × oh × ow`).
#[inline(always)]
fn fwd_tile<const FUSED: bool, const OB: usize, const W: usize>(
    a: &Fwd,
    o0: usize,
    q0: usize,
    y: &mut [f32],
) {
    let g = a.g;
    let bias: [f32; OB] = std::array::from_fn(|r| a.bias.map_or(0.0, |b| b[o0 + r]));
    let mut acc = [[0.0f32; W]; OB];
    if a.from_bias {
        for (acc_r, &b) in acc.iter_mut().zip(&bias) {
            *acc_r = [b; W];
        }
    }
    for c in 0..g.c_in {
        let plane = &a.xp[c * a.plane..(c + 1) * a.plane];
        for u in 0..g.kh {
            for v in 0..g.kw {
                let s = q0 + u * a.wp + v;
                let xs: &[f32; W] = plane[s..s + W].try_into().unwrap();
                let t = (c * g.kh + u) * g.kw + v;
                let ws: &[f32; OB] = a.wt[t * g.c_out + o0..t * g.c_out + o0 + OB]
                    .try_into()
                    .unwrap();
                for (acc_r, &wv) in acc.iter_mut().zip(ws) {
                    for (x, &xv) in acc_r.iter_mut().zip(xs) {
                        *x = madd::<FUSED>(*x, wv, xv);
                    }
                }
            }
        }
    }
    // The tile's positions lie on output rows q0/wp ..; keep the first ow of each row.
    let (oh, ow, wp) = (g.out_h(), g.out_w(), a.wp);
    let mut i = q0 / wp;
    while i < oh && i * wp < q0 + W {
        let (lo, hi) = ((i * wp).max(q0), (i * wp + ow).min(q0 + W));
        for (r, (acc_r, &b)) in acc.iter().zip(&bias).enumerate() {
            if lo >= hi {
                break;
            }
            let dst = &mut y[((o0 + r) * oh + i) * ow + lo - i * wp..][..hi - lo];
            let src = &acc_r[lo - q0..hi - q0];
            if a.from_bias {
                dst.copy_from_slice(src);
            } else {
                for (d, &v) in dst.iter_mut().zip(src) {
                    *d = v + b;
                }
            }
        }
        i += 1;
    }
}

/// All tiles of one sample: `OB`-channel blocks of `W` positions, then the leftover channels
/// one at a time with `W1` positions.
#[inline(always)]
fn fwd_sample<const FUSED: bool, const OB: usize, const W: usize, const W1: usize>(
    a: &Fwd,
    y: &mut [f32],
) {
    let g = a.g;
    let q_len = g.out_h() * a.wp;
    let mut o0 = 0;
    while o0 + OB <= g.c_out {
        for q0 in (0..q_len).step_by(W) {
            fwd_tile::<FUSED, OB, W>(a, o0, q0, y);
        }
        o0 += OB;
    }
    for o in o0..g.c_out {
        for q0 in (0..q_len).step_by(W1) {
            fwd_tile::<FUSED, 1, W1>(a, o, q0, y);
        }
    }
}

/// `unsafe fn $name(a, y) { $body(a, y) }` compiled with the target features `$f`.
macro_rules! compiled_with {
    ($f:literal, $name:ident = $body:expr, ($($arg:ident: $ty:ty),*)) => {
        #[cfg(target_arch = "x86_64")]
        #[target_feature(enable = $f)]
        unsafe fn $name($($arg: $ty),*) {
            $body($($arg),*)
        }
    };
}

// Generic tiles (the unfused roundings, and every rounding on the portable path): AVX-512
// 8 channels × 32 positions, AVX2 4 × 24, portable 4 × 8; leftover channels 1 × 8 vectors.
// The fused AVX-512 and AVX2 paths have intrinsics tiles below (the generic bodies do not
// keep their accumulator arrays in registers).
compiled_with!("avx512f,avx2,fma", fwd_avx512_plain = fwd_sample::<false, 8, 32, 128>, (a: &Fwd, y: &mut [f32]));
compiled_with!("avx2,fma", fwd_avx2_plain = fwd_sample::<false, 4, 24, 64>, (a: &Fwd, y: &mut [f32]));

/// [`fwd_tile`] with AVX-512 intrinsics, fused: `OB × NV` zmm accumulators (the generic body
/// does not keep its accumulator array in registers), the same operations per element.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn fwd_tile_avx512<const OB: usize, const NV: usize>(
    a: &Fwd,
    o0: usize,
    q0: usize,
    y: &mut [f32],
) {
    use std::arch::x86_64::*;
    let g = a.g;
    let w = NV * 16;
    let mut acc = [[_mm512_setzero_ps(); NV]; OB];
    for (&off, ws) in a.taps.iter().zip(a.wt.chunks_exact(g.c_out)) {
        let xs = &a.xp[off + q0..off + q0 + w];
        let ws = &ws[o0..o0 + OB];
        // SAFETY: `xs` holds NV·16 floats (sliced above), so each 16-float load is in
        // bounds; the CPU has AVX-512F (this function's contract).
        let xv: [__m512; NV] =
            std::array::from_fn(|n| unsafe { _mm512_loadu_ps(xs.as_ptr().add(16 * n)) });
        for (acc_r, &wv) in acc.iter_mut().zip(ws) {
            let wb = _mm512_set1_ps(wv);
            for (x, &xn) in acc_r.iter_mut().zip(&xv) {
                *x = _mm512_fmadd_ps(wb, xn, *x);
            }
        }
    }
    let (oh, ow, wp) = (g.out_h(), g.out_w(), a.wp);
    let mut buf = [0.0f32; 128];
    for (r, acc_r) in acc.iter().enumerate() {
        for (n, &x) in acc_r.iter().enumerate() {
            // SAFETY: 16·n + 16 <= 16·NV <= 128 = buf.len().
            unsafe { _mm512_storeu_ps(buf.as_mut_ptr().add(16 * n), x) };
        }
        let b = a.bias.map_or(0.0, |b| b[o0 + r]);
        let mut i = q0 / wp;
        while i < oh && i * wp < q0 + w {
            let (lo, hi) = ((i * wp).max(q0), (i * wp + ow).min(q0 + w));
            if lo < hi {
                let dst = &mut y[((o0 + r) * oh + i) * ow + lo - i * wp..][..hi - lo];
                for (d, &v) in dst.iter_mut().zip(&buf[lo - q0..hi - q0]) {
                    *d = v + b;
                }
            }
            i += 1;
        }
    }
}

/// [`fwd_sample`] with the AVX-512 tiles: 8 channels × 32 positions, leftovers 1 × 128.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn fwd_avx512_fused(a: &Fwd, y: &mut [f32]) {
    let g = a.g;
    let q_len = g.out_h() * a.wp;
    let mut o0 = 0;
    // SAFETY (all calls): this function's contract.
    while o0 + 8 <= g.c_out {
        for q0 in (0..q_len).step_by(32) {
            unsafe { fwd_tile_avx512::<8, 2>(a, o0, q0, y) };
        }
        o0 += 8;
    }
    for o in o0..g.c_out {
        for q0 in (0..q_len).step_by(128) {
            unsafe { fwd_tile_avx512::<1, 8>(a, o, q0, y) };
        }
    }
}

/// [`fwd_tile`] with AVX2 intrinsics, fused: `OB × NV` ymm accumulators, the same operations
/// per element as the AVX-512 tile (one chain over the taps from 0, the bias added after).
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fwd_tile_avx2<const OB: usize, const NV: usize>(
    a: &Fwd,
    o0: usize,
    q0: usize,
    y: &mut [f32],
) {
    use std::arch::x86_64::*;
    let g = a.g;
    let w = NV * 8;
    let mut acc = [[_mm256_setzero_ps(); NV]; OB];
    for (&off, ws) in a.taps.iter().zip(a.wt.chunks_exact(g.c_out)) {
        let xs = &a.xp[off + q0..off + q0 + w];
        let ws = &ws[o0..o0 + OB];
        // SAFETY: `xs` holds NV·8 floats (sliced above), so each 8-float load is in bounds;
        // the CPU has AVX2 (this function's contract).
        let xv: [__m256; NV] =
            std::array::from_fn(|n| unsafe { _mm256_loadu_ps(xs.as_ptr().add(8 * n)) });
        for (acc_r, &wv) in acc.iter_mut().zip(ws) {
            let wb = _mm256_set1_ps(wv);
            for (x, &xn) in acc_r.iter_mut().zip(&xv) {
                *x = _mm256_fmadd_ps(wb, xn, *x);
            }
        }
    }
    let (oh, ow, wp) = (g.out_h(), g.out_w(), a.wp);
    let mut buf = [0.0f32; MAX_W];
    for (r, acc_r) in acc.iter().enumerate() {
        for (n, &x) in acc_r.iter().enumerate() {
            // SAFETY: 8·n + 8 <= 8·NV <= MAX_W = buf.len() (NV ≤ 16, checked by the callers'
            // constants).
            unsafe { _mm256_storeu_ps(buf.as_mut_ptr().add(8 * n), x) };
        }
        let b = a.bias.map_or(0.0, |b| b[o0 + r]);
        let mut i = q0 / wp;
        while i < oh && i * wp < q0 + w {
            let (lo, hi) = ((i * wp).max(q0), (i * wp + ow).min(q0 + w));
            if lo < hi {
                let dst = &mut y[((o0 + r) * oh + i) * ow + lo - i * wp..][..hi - lo];
                for (d, &v) in dst.iter_mut().zip(&buf[lo - q0..hi - q0]) {
                    *d = v + b;
                }
            }
            i += 1;
        }
    }
}

/// [`fwd_sample`] with AVX2 tiles of `OB` channels × `NV` vectors of 8 positions, leftovers
/// 1 × 8 vectors.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fwd_avx2_fused<const OB: usize, const NV: usize>(a: &Fwd, y: &mut [f32]) {
    let g = a.g;
    let q_len = g.out_h() * a.wp;
    let mut o0 = 0;
    // SAFETY (all calls): this function's contract.
    while o0 + OB <= g.c_out {
        for q0 in (0..q_len).step_by(NV * 8) {
            unsafe { fwd_tile_avx2::<OB, NV>(a, o0, q0, y) };
        }
        o0 += OB;
    }
    for o in o0..g.c_out {
        for q0 in (0..q_len).step_by(64) {
            unsafe { fwd_tile_avx2::<1, 8>(a, o, q0, y) };
        }
    }
}

/// One sample on `isa` (supported, checked by the caller) with fused or plain products.
fn fwd_dispatch(isa: Isa, fused: bool, a: &Fwd, y: &mut [f32]) {
    // SAFETY (each arm): the wrapper's target features are those of `isa`, which the public
    // entry point checked with `Isa::is_supported` (AVX-512 implies AVX2 + FMA there); the
    // bodies use only bounds-checked slice indexing.
    match (isa, fused) {
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, true) => unsafe { fwd_avx512_fused(a, y) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, false) => unsafe { fwd_avx512_plain(a, y) },
        #[cfg(target_arch = "x86_64")]
        // 4 channels × 3 vectors: 12 ymm accumulators, 3 input vectors and the broadcast
        // weight fill the 16 registers. Measured on Zen 2 (GI_CONV_CPU_TABLE=1 bench, column
        // `fwd dir`) against 6 × 2, 3 × 4, 8 × 1 and 2 × 6, it was the fastest on both
        // 16-channel shapes; the input gradient's tile likewise.
        (Isa::Avx2Fma, true) => unsafe { fwd_avx2_fused::<4, 3>(a, y) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, false) => unsafe { fwd_avx2_plain(a, y) },
        (_, true) => fwd_sample::<true, 4, 8, 32>(a, y),
        (_, false) => fwd_sample::<false, 4, 8, 32>(a, y),
    }
}

/// `isa` if supported, else the best supported one.
fn usable(isa: Isa) -> Isa {
    if isa.is_supported() {
        isa
    } else {
        super::isa::best()
    }
}

/// Direct forward convolution (stride 1, see [`applies`]) with the rounding of the im2col
/// product `rounding` on `isa`. Overwrites `output`.
///
/// # Panics
/// If `g` does not [`apply`](applies) or a slice length does not match `g`.
pub fn conv2d_forward_direct_with(
    isa: Isa,
    rounding: Rounding,
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    assert!(
        applies(g),
        "conv2d_forward_direct: stride 1 and a non-empty geometry"
    );
    assert_eq!(input.len(), g.input_len(), "conv2d_forward_direct: input");
    assert_eq!(
        weight.len(),
        g.weight_len(),
        "conv2d_forward_direct: weight"
    );
    assert_eq!(
        output.len(),
        g.output_len(),
        "conv2d_forward_direct: output"
    );
    if let Some(b) = bias {
        assert_eq!(b.len(), g.c_out, "conv2d_forward_direct: bias");
    }
    let isa = usable(isa);
    let fused = rounding.fused(isa);
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    // A tile at the last position reads up to MAX_W - 1 + (kh-1)·wp + kw-1 past it.
    let plane = hp * wp + MAX_W + g.kw;
    let k = g.col_rows();
    let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.out_h() * g.out_w());
    let taps: Vec<usize> = (0..g.c_in)
        .flat_map(|c| (0..g.kh).flat_map(move |u| (0..g.kw).map(move |v| (c, u, v))))
        .map(|(c, u, v)| c * plane + u * wp + v)
        .collect();
    with_scratch((g.c_in * plane, k * g.c_out), |xp, wt| {
        for o in 0..g.c_out {
            for t in 0..k {
                wt[t * g.c_out + o] = weight[o * k + t];
            }
        }
        for b in 0..g.n {
            let x_b = &input[b * in_len..(b + 1) * in_len];
            for (c, x_c) in x_b.chunks_exact(g.h * g.w).enumerate() {
                for (y, row) in x_c.chunks_exact(g.w).enumerate() {
                    let at = c * plane + (y + g.pad) * wp + g.pad;
                    xp[at..at + g.w].copy_from_slice(row);
                }
            }
            let a = Fwd {
                g,
                xp,
                plane,
                wp,
                wt,
                taps: &taps,
                bias,
                from_bias: rounding == Rounding::Unfused,
            };
            let y_b = &mut output[b * out_len..(b + 1) * out_len];
            fwd_dispatch(isa, fused, &a, y_b);
            if rounding == Rounding::Tiles {
                tiles_edges(&a, fused, y_b);
            }
        }
    })
}

/// Recomputes the outputs that `small::acc_nn` computes in its axpy form (chains from the
/// bias): rows past the last full group of 4 channels, and flat positions past the last
/// full 16 of each channel's `oh·ow` outputs.
fn tiles_edges(a: &Fwd, fused: bool, y: &mut [f32]) {
    let g = a.g;
    let (oh, ow, p_len) = (g.out_h(), g.out_w(), g.out_h() * g.out_w());
    let (m_full, n_full) = (g.c_out / 4 * 4, p_len / 16 * 16);
    for o in 0..g.c_out {
        let start = if o < m_full { n_full } else { 0 };
        for p in start..p_len {
            let (i, j) = (p / ow, p % ow);
            let mut acc = a.bias.map_or(0.0, |b| b[o]);
            for c in 0..g.c_in {
                for u in 0..g.kh {
                    for v in 0..g.kw {
                        let t = (c * g.kh + u) * g.kw + v;
                        let (wv, xv) = (
                            a.wt[t * g.c_out + o],
                            a.xp[c * a.plane + (i + u) * a.wp + j + v],
                        );
                        acc = if fused {
                            wv.mul_add(xv, acc)
                        } else {
                            acc + wv * xv
                        };
                    }
                }
            }
            y[(o * oh + i) * ow + j] = acc;
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Input gradient.
// ---------------------------------------------------------------------------------------------

/// One sample's input-gradient operands: the output gradient placed in zero-padded planes
/// (`c_out` planes of `plane` floats, row stride `wq`, data at row `kh-1`, column `kw-1`) and
/// the weights re-laid as `wb[((u·kw + v)·c_out + o)·c_in + c]`.
struct Bwd<'a> {
    g: &'a Conv2dGeometry,
    dyp: &'a [f32],
    plane: usize,
    wq: usize,
    wb: &'a [f32],
}

/// `CB` input channels from `c0` × `W` flat positions from `q0` (`q = y·wq + x`) of one
/// sample's input gradient `dx` (`c_in × h × w`), accumulated.
#[inline(always)]
fn bwd_tile<const FUSED: bool, const CB: usize, const W: usize>(
    a: &Bwd,
    c0: usize,
    q0: usize,
    dx: &mut [f32],
) {
    let g = a.g;
    let (h, w, wq) = (g.h, g.w, a.wq);
    // The running sums start at the old gradient (positions past each row's w stay 0).
    let mut s = [[0.0f32; W]; CB];
    let rows = (q0 / wq)..h.min((q0 + W).div_ceil(wq));
    for y in rows.clone() {
        let (lo, hi) = ((y * wq).max(q0), (y * wq + w).min(q0 + W));
        for (r, s_r) in s.iter_mut().enumerate().take(if lo < hi { CB } else { 0 }) {
            let src = &dx[((c0 + r) * h + y) * w + lo - y * wq..][..hi - lo];
            s_r[lo - q0..hi - q0].copy_from_slice(src);
        }
    }
    for u in 0..g.kh {
        for v in 0..g.kw {
            let shift = (g.pad + g.kh - 1 - u) * wq + g.pad + g.kw - 1 - v;
            let mut t = [[0.0f32; W]; CB];
            for o in 0..g.c_out {
                let at = o * a.plane + q0 + shift;
                let ds: &[f32; W] = a.dyp[at..at + W].try_into().unwrap();
                let wi = ((u * g.kw + v) * g.c_out + o) * g.c_in + c0;
                let ws: &[f32; CB] = a.wb[wi..wi + CB].try_into().unwrap();
                for (t_r, &wv) in t.iter_mut().zip(ws) {
                    for (x, &dv) in t_r.iter_mut().zip(ds) {
                        *x = madd::<FUSED>(*x, wv, dv);
                    }
                }
            }
            for (s_r, t_r) in s.iter_mut().zip(&t) {
                for (x, &tv) in s_r.iter_mut().zip(t_r) {
                    *x += tv;
                }
            }
        }
    }
    for y in rows {
        let (lo, hi) = ((y * wq).max(q0), (y * wq + w).min(q0 + W));
        for (r, s_r) in s.iter().enumerate().take(if lo < hi { CB } else { 0 }) {
            let dst = &mut dx[((c0 + r) * h + y) * w + lo - y * wq..][..hi - lo];
            dst.copy_from_slice(&s_r[lo - q0..hi - q0]);
        }
    }
}

/// All tiles of one sample: `CB`-channel blocks of `W` positions, then the leftover input
/// channels one at a time with `W1` positions.
#[inline(always)]
fn bwd_sample<const FUSED: bool, const CB: usize, const W: usize, const W1: usize>(
    a: &Bwd,
    dx: &mut [f32],
) {
    let g = a.g;
    let q_len = g.h * a.wq;
    let mut c0 = 0;
    while c0 + CB <= g.c_in {
        for q0 in (0..q_len).step_by(W) {
            bwd_tile::<FUSED, CB, W>(a, c0, q0, dx);
        }
        c0 += CB;
    }
    for c in c0..g.c_in {
        for q0 in (0..q_len).step_by(W1) {
            bwd_tile::<FUSED, 1, W1>(a, c, q0, dx);
        }
    }
}

compiled_with!("avx512f,avx2,fma", bwd_avx512_plain = bwd_sample::<false, 8, 32, 128>, (a: &Bwd, dx: &mut [f32]));
compiled_with!("avx2,fma", bwd_avx2_plain = bwd_sample::<false, 4, 24, 64>, (a: &Bwd, dx: &mut [f32]));

/// [`bwd_tile`] with AVX-512 intrinsics, fused: the `CB × NV` chains of one tap in zmm
/// registers, added into the running sums (in memory) tap by tap.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn bwd_tile_avx512<const CB: usize, const NV: usize>(
    a: &Bwd,
    c0: usize,
    q0: usize,
    dx: &mut [f32],
) {
    use std::arch::x86_64::*;
    let g = a.g;
    let (h, wd, wq) = (g.h, g.w, a.wq);
    let w = NV * 16;
    // The running sums, in memory (L1): keeping them in registers too would spill the chains.
    let mut s = [[0.0f32; 128]; CB];
    let rows = (q0 / wq)..h.min((q0 + w).div_ceil(wq));
    for (r, s_r) in s.iter_mut().enumerate() {
        for y in rows.clone() {
            let (lo, hi) = ((y * wq).max(q0), (y * wq + wd).min(q0 + w));
            if lo < hi {
                let src = &dx[((c0 + r) * h + y) * wd + lo - y * wq..][..hi - lo];
                s_r[lo - q0..hi - q0].copy_from_slice(src);
            }
        }
    }
    for u in 0..g.kh {
        for v in 0..g.kw {
            let shift = (g.pad + g.kh - 1 - u) * wq + g.pad + g.kw - 1 - v;
            let mut t = [[_mm512_setzero_ps(); NV]; CB];
            let wtap = &a.wb[(u * g.kw + v) * g.c_out * g.c_in..][..g.c_out * g.c_in];
            for (o, ws) in wtap.chunks_exact(g.c_in).enumerate() {
                let at = o * a.plane + q0 + shift;
                let ds = &a.dyp[at..at + w];
                let ws = &ws[c0..c0 + CB];
                // SAFETY: `ds` holds NV·16 floats (sliced above).
                let dv: [__m512; NV] =
                    std::array::from_fn(|n| unsafe { _mm512_loadu_ps(ds.as_ptr().add(16 * n)) });
                for (t_r, &wv) in t.iter_mut().zip(ws) {
                    let wb = _mm512_set1_ps(wv);
                    for (x, &dn) in t_r.iter_mut().zip(&dv) {
                        *x = _mm512_fmadd_ps(wb, dn, *x);
                    }
                }
            }
            for (s_r, t_r) in s.iter_mut().zip(&t) {
                for (n, &tn) in t_r.iter().enumerate() {
                    // SAFETY: 16·n + 16 <= 16·NV <= 128 = s_r.len().
                    unsafe {
                        let p = s_r.as_mut_ptr().add(16 * n);
                        _mm512_storeu_ps(p, _mm512_add_ps(_mm512_loadu_ps(p), tn));
                    }
                }
            }
        }
    }
    for (r, s_r) in s.iter().enumerate() {
        for y in rows.clone() {
            let (lo, hi) = ((y * wq).max(q0), (y * wq + wd).min(q0 + w));
            if lo < hi {
                let dst = &mut dx[((c0 + r) * h + y) * wd + lo - y * wq..][..hi - lo];
                dst.copy_from_slice(&s_r[lo - q0..hi - q0]);
            }
        }
    }
}

/// [`bwd_sample`] with the AVX-512 tiles: 8 input channels × 32 positions (16 zmm chains),
/// leftovers 1 × 128.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn bwd_avx512_fused(a: &Bwd, dx: &mut [f32]) {
    let g = a.g;
    let q_len = g.h * a.wq;
    let mut c0 = 0;
    // SAFETY (all calls): this function's contract.
    while c0 + 8 <= g.c_in {
        for q0 in (0..q_len).step_by(32) {
            unsafe { bwd_tile_avx512::<8, 2>(a, c0, q0, dx) };
        }
        c0 += 8;
    }
    for c in c0..g.c_in {
        for q0 in (0..q_len).step_by(128) {
            unsafe { bwd_tile_avx512::<1, 8>(a, c, q0, dx) };
        }
    }
}

/// [`bwd_tile`] with AVX2 intrinsics, fused: the `CB × NV` chains of one tap in ymm
/// registers, added into the running sums (in memory) tap by tap, as the AVX-512 tile.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_tile_avx2<const CB: usize, const NV: usize>(
    a: &Bwd,
    c0: usize,
    q0: usize,
    dx: &mut [f32],
) {
    use std::arch::x86_64::*;
    let g = a.g;
    let (h, wd, wq) = (g.h, g.w, a.wq);
    let w = NV * 8;
    let mut s = [[0.0f32; MAX_W]; CB];
    let rows = (q0 / wq)..h.min((q0 + w).div_ceil(wq));
    for (r, s_r) in s.iter_mut().enumerate() {
        for y in rows.clone() {
            let (lo, hi) = ((y * wq).max(q0), (y * wq + wd).min(q0 + w));
            if lo < hi {
                let src = &dx[((c0 + r) * h + y) * wd + lo - y * wq..][..hi - lo];
                s_r[lo - q0..hi - q0].copy_from_slice(src);
            }
        }
    }
    for u in 0..g.kh {
        for v in 0..g.kw {
            let shift = (g.pad + g.kh - 1 - u) * wq + g.pad + g.kw - 1 - v;
            let mut t = [[_mm256_setzero_ps(); NV]; CB];
            let wtap = &a.wb[(u * g.kw + v) * g.c_out * g.c_in..][..g.c_out * g.c_in];
            for (o, ws) in wtap.chunks_exact(g.c_in).enumerate() {
                let at = o * a.plane + q0 + shift;
                let ds = &a.dyp[at..at + w];
                let ws = &ws[c0..c0 + CB];
                // SAFETY: `ds` holds NV·8 floats (sliced above).
                let dv: [__m256; NV] =
                    std::array::from_fn(|n| unsafe { _mm256_loadu_ps(ds.as_ptr().add(8 * n)) });
                for (t_r, &wv) in t.iter_mut().zip(ws) {
                    let wb = _mm256_set1_ps(wv);
                    for (x, &dn) in t_r.iter_mut().zip(&dv) {
                        *x = _mm256_fmadd_ps(wb, dn, *x);
                    }
                }
            }
            for (s_r, t_r) in s.iter_mut().zip(&t) {
                for (n, &tn) in t_r.iter().enumerate() {
                    // SAFETY: 8·n + 8 <= 8·NV <= MAX_W = s_r.len().
                    unsafe {
                        let p = s_r.as_mut_ptr().add(8 * n);
                        _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), tn));
                    }
                }
            }
        }
    }
    for (r, s_r) in s.iter().enumerate() {
        for y in rows.clone() {
            let (lo, hi) = ((y * wq).max(q0), (y * wq + wd).min(q0 + w));
            if lo < hi {
                let dst = &mut dx[((c0 + r) * h + y) * wd + lo - y * wq..][..hi - lo];
                dst.copy_from_slice(&s_r[lo - q0..hi - q0]);
            }
        }
    }
}

/// [`bwd_sample`] with AVX2 tiles of `CB` input channels × `NV` vectors of 8 positions,
/// leftovers 1 × 8 vectors.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_avx2_fused<const CB: usize, const NV: usize>(a: &Bwd, dx: &mut [f32]) {
    let g = a.g;
    let q_len = g.h * a.wq;
    let mut c0 = 0;
    // SAFETY (all calls): this function's contract.
    while c0 + CB <= g.c_in {
        for q0 in (0..q_len).step_by(NV * 8) {
            unsafe { bwd_tile_avx2::<CB, NV>(a, c0, q0, dx) };
        }
        c0 += CB;
    }
    for c in c0..g.c_in {
        for q0 in (0..q_len).step_by(64) {
            unsafe { bwd_tile_avx2::<1, 8>(a, c, q0, dx) };
        }
    }
}

fn bwd_dispatch(isa: Isa, fused: bool, a: &Bwd, dx: &mut [f32]) {
    // SAFETY (each arm): as in `fwd_dispatch`.
    match (isa, fused) {
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, true) => unsafe { bwd_avx512_fused(a, dx) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, false) => unsafe { bwd_avx512_plain(a, dx) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, true) => unsafe { bwd_avx2_fused::<4, 3>(a, dx) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, false) => unsafe { bwd_avx2_plain(a, dx) },
        (_, true) => bwd_sample::<true, 4, 8, 32>(a, dx),
        (_, false) => bwd_sample::<false, 4, 8, 32>(a, dx),
    }
}

/// Direct input gradient (stride 1, see [`applies`]) with the rounding of the im2col
/// product `rounding` on `isa` ([`Rounding::Tiles`] and [`Rounding::Packed`] differ only in
/// where they fuse). Accumulates into `grad_input`.
///
/// # Panics
/// If `g` does not [`apply`](applies) or a slice length does not match `g`.
pub fn conv2d_backward_input_direct_with(
    isa: Isa,
    rounding: Rounding,
    g: &Conv2dGeometry,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    assert!(
        applies(g),
        "conv2d_backward_input_direct: stride 1 and a non-empty geometry"
    );
    assert_eq!(
        grad_output.len(),
        g.output_len(),
        "conv2d_backward_input_direct: grad_output"
    );
    assert_eq!(
        weight.len(),
        g.weight_len(),
        "conv2d_backward_input_direct: weight"
    );
    assert_eq!(
        grad_input.len(),
        g.input_len(),
        "conv2d_backward_input_direct: grad_input"
    );
    let isa = usable(isa);
    let fused = rounding.fused(isa);
    let (oh, ow) = (g.out_h(), g.out_w());
    // Valid input positions read columns up to w-1 + p + kw-1, and the data spans columns
    // kw-1 .. kw-1+ow = w+2p.
    let wq = (g.w + 2 * g.pad).max(g.w + g.pad + g.kw - 1);
    // A tile at the last position (< h·wq) reads up to MAX_W - 1 + (p+kh-1)·wq + p+kw-1 past
    // it.
    // (Rows: the data ends at row kh-1+oh = h+2p; reads reach h-1 + p+kh-1 + 1.)
    let plane = (g.h + 2 * g.pad + g.kh) * wq + MAX_W;
    let k = g.col_rows();
    let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * oh * ow);
    with_scratch((g.c_out * plane, k * g.c_out), |dyp, wb| {
        for o in 0..g.c_out {
            for c in 0..g.c_in {
                for u in 0..g.kh {
                    for v in 0..g.kw {
                        wb[((u * g.kw + v) * g.c_out + o) * g.c_in + c] =
                            weight[((o * g.c_in + c) * g.kh + u) * g.kw + v];
                    }
                }
            }
        }
        for b in 0..g.n {
            let dy_b = &grad_output[b * out_len..(b + 1) * out_len];
            for (o, dy_o) in dy_b.chunks_exact(oh * ow).enumerate() {
                for (i, row) in dy_o.chunks_exact(ow).enumerate() {
                    let at = o * plane + (i + g.kh - 1) * wq + g.kw - 1;
                    dyp[at..at + ow].copy_from_slice(row);
                }
            }
            let a = Bwd {
                g,
                dyp,
                plane,
                wq,
                wb,
            };
            bwd_dispatch(
                isa,
                fused,
                &a,
                &mut grad_input[b * in_len..(b + 1) * in_len],
            );
        }
    })
}

// ---------------------------------------------------------------------------------------------
// Weight gradient.
// ---------------------------------------------------------------------------------------------

/// One sample's weight-gradient operands: the padded input planes (as [`Fwd`]), the output
/// gradient transposed to `dyt[p * c_pad + o]` (`c_pad` = `c_out` rounded up to 8, the extra
/// lanes zero), and where each tap `t = (c·kh + u)·kw + v` starts in `xp`.
struct Dw<'a> {
    g: &'a Conv2dGeometry,
    xp: &'a [f32],
    dyt: &'a [f32],
    c_pad: usize,
    taps: &'a [usize],
}

/// The flat padded-grid positions `q = i·wp + j` of output pixels `p0 .. p1` (`p = i·ow + j`),
/// in increasing `p`.
fn dw_positions(g: &Conv2dGeometry, wp: usize, (p0, p1): (usize, usize)) -> Vec<usize> {
    (p0..p1)
        .map(|p| (p / g.out_w()) * wp + p % g.out_w())
        .collect()
}

/// Generic body: `dW[o, t] += Σ_{p in chunk} dy[o, p] · x[t, p]` for every `(o, t)`, one chain
/// per element from 0 in increasing `p`, fused or multiply-then-add.
fn dw_chunk_generic<const FUSED: bool>(a: &Dw, qs: &[usize], p0: usize, dw: &mut [f32]) {
    let (g, k) = (a.g, a.g.col_rows());
    for o in 0..g.c_out {
        for (t, &off) in a.taps.iter().enumerate() {
            let mut acc = 0.0f32;
            for (n, &q) in qs.iter().enumerate() {
                acc = madd::<FUSED>(acc, a.dyt[(p0 + n) * a.c_pad + o], a.xp[off + q]);
            }
            dw[o * k + t] += acc;
        }
    }
}

/// [`dw_chunk_generic`] (fused) for `OV` vectors of 8 output channels from `o0` × `TB` taps
/// from `t0`, with AVX2 intrinsics: `OV × TB` ymm chains, per position `OV` loads of the
/// transposed output gradient and `TB` broadcasts of input values.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_tile_avx2<const OV: usize, const TB: usize>(
    a: &Dw,
    qs: &[usize],
    (p0, o0, t0): (usize, usize, usize),
    dw: &mut [f32],
) {
    use std::arch::x86_64::*;
    let (g, k) = (a.g, a.g.col_rows());
    let offs: [usize; TB] = std::array::from_fn(|i| a.taps[t0 + i]);
    // Every read below is in bounds: checked once here instead of per element.
    let last_q = qs.last().copied().unwrap_or(0);
    assert!(offs.iter().all(|&off| off + last_q < a.xp.len()));
    assert!(o0 + 8 * OV <= a.c_pad && (p0 + qs.len()) * a.c_pad <= a.dyt.len());
    let mut acc = [[_mm256_setzero_ps(); OV]; TB];
    let (xp, dyt) = (a.xp.as_ptr(), a.dyt.as_ptr());
    for (n, &q) in qs.iter().enumerate() {
        // SAFETY: (p0 + n)·c_pad + o0 + 8·OV <= dyt.len() and off + q <= off + last_q <
        // xp.len() (asserted above; qs increases); the CPU has AVX2 (this function's contract).
        unsafe {
            let ds = dyt.add((p0 + n) * a.c_pad + o0);
            let dv: [__m256; OV] = std::array::from_fn(|v| _mm256_loadu_ps(ds.add(8 * v)));
            for (acc_t, &off) in acc.iter_mut().zip(&offs) {
                let xb = _mm256_broadcast_ss(&*xp.add(off + q));
                for (x, &d) in acc_t.iter_mut().zip(&dv) {
                    *x = _mm256_fmadd_ps(d, xb, *x);
                }
            }
        }
    }
    let mut buf = [0.0f32; 16];
    let buf = &mut buf[..8 * OV]; // OV ≤ 2 (the callers' constants)
    for (i, acc_t) in acc.iter().enumerate() {
        for (v, &x) in acc_t.iter().enumerate() {
            // SAFETY: 8·v + 8 <= 8·OV = buf.len().
            unsafe { _mm256_storeu_ps(buf.as_mut_ptr().add(8 * v), x) };
        }
        let t = t0 + i;
        for (l, &v) in buf.iter().enumerate().take(g.c_out.saturating_sub(o0)) {
            dw[(o0 + l) * k + t] += v;
        }
    }
}

/// All tiles of one chunk with the AVX2 intrinsics: 16 channels × 6 taps (12 ymm chains, 2
/// gradient vectors and one broadcast: 15 registers), then 8-channel and single-tap edges.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_chunk_avx2(a: &Dw, qs: &[usize], p0: usize, dw: &mut [f32]) {
    let k = a.g.col_rows();
    // SAFETY (all calls): this function's contract.
    let mut o0 = 0;
    while o0 < a.g.c_out {
        let wide = o0 + 16 <= a.c_pad;
        let mut t0 = 0;
        while t0 + 6 <= k {
            match wide {
                true => unsafe { dw_tile_avx2::<2, 6>(a, qs, (p0, o0, t0), dw) },
                false => unsafe { dw_tile_avx2::<1, 6>(a, qs, (p0, o0, t0), dw) },
            }
            t0 += 6;
        }
        for t in t0..k {
            match wide {
                true => unsafe { dw_tile_avx2::<2, 1>(a, qs, (p0, o0, t), dw) },
                false => unsafe { dw_tile_avx2::<1, 1>(a, qs, (p0, o0, t), dw) },
            }
        }
        o0 += if wide { 16 } else { 8 };
    }
}

/// Direct weight gradient (stride 1, see [`applies`]): `dW += Σ_b dY_b · X_colᵀ` without the
/// column matrix, with the rounding of im2col + packed sgemm on `isa` whose reduction over the
/// `oh·ow` output pixels is cut into chunks of `chunk` ([`super::matmul::packed_k_chunk`]):
/// per sample and chunk, each `dW[o, t]` gets `acc + dW[o, t]`, `acc` one chain over the
/// chunk's pixels in order from 0, fused unless `isa` is portable. Accumulates into
/// `grad_weight`.
///
/// # Panics
/// If `g` does not [`apply`](applies), `chunk` is 0, or a slice length does not match `g`.
pub fn conv2d_backward_weight_direct_with(
    isa: Isa,
    chunk: usize,
    g: &Conv2dGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    let what = "conv2d_backward_weight_direct";
    assert!(applies(g), "{what}: stride 1 and a non-empty geometry");
    assert!(chunk > 0, "{what}: chunk");
    assert_eq!(input.len(), g.input_len(), "{what}: input");
    assert_eq!(grad_output.len(), g.output_len(), "{what}: grad_output");
    assert_eq!(grad_weight.len(), g.weight_len(), "{what}: grad_weight");
    let isa = usable(isa);
    let fused = Rounding::Packed.fused(isa);
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    let plane = hp * wp + g.kw;
    let p_len = g.out_h() * g.out_w();
    let c_pad = g.c_out.div_ceil(8) * 8;
    let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * p_len);
    let taps: Vec<usize> = (0..g.c_in)
        .flat_map(|c| (0..g.kh).flat_map(move |u| (0..g.kw).map(move |v| (c, u, v))))
        .map(|(c, u, v)| c * plane + u * wp + v)
        .collect();
    let chunks: Vec<(usize, Vec<usize>)> = (0..p_len)
        .step_by(chunk)
        .map(|p0| (p0, dw_positions(g, wp, (p0, (p0 + chunk).min(p_len)))))
        .collect();
    with_scratch((g.c_in * plane, p_len * c_pad), |xp, dyt| {
        for b in 0..g.n {
            for (c, x_c) in input[b * in_len..(b + 1) * in_len]
                .chunks_exact(g.h * g.w)
                .enumerate()
            {
                for (y, row) in x_c.chunks_exact(g.w).enumerate() {
                    let at = c * plane + (y + g.pad) * wp + g.pad;
                    xp[at..at + g.w].copy_from_slice(row);
                }
            }
            let dy_b = &grad_output[b * out_len..(b + 1) * out_len];
            for (o, dy_o) in dy_b.chunks_exact(p_len).enumerate() {
                for (p, &d) in dy_o.iter().enumerate() {
                    dyt[p * c_pad + o] = d;
                }
            }
            let a = Dw {
                g,
                xp,
                dyt,
                c_pad,
                taps: &taps,
            };
            for (p0, qs) in &chunks {
                // SAFETY: the AVX2 body needs AVX2 + FMA, which `isa` (supported, checked
                // by `usable`) has on these arms (AVX-512 implies both here).
                match (isa, fused) {
                    #[cfg(target_arch = "x86_64")]
                    (Isa::Avx2Fma | Isa::Avx512, true) => unsafe {
                        dw_chunk_avx2(&a, qs, *p0, grad_weight)
                    },
                    (_, true) => dw_chunk_generic::<true>(&a, qs, *p0, grad_weight),
                    (_, false) => dw_chunk_generic::<false>(&a, qs, *p0, grad_weight),
                }
            }
        }
    })
}
