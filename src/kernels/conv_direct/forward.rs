//! The direct forward convolution: its operands, one tile body for every ISA and rounding,
//! the per-ISA entry points, and the outputs that `small::acc_nn` computes in its axpy form
//! ([`Rounding::Tiles`]).

use super::lanes::{FusedLanes, Pixels, Portable, Unfused};
#[cfg(target_arch = "x86_64")]
use super::lanes::{Ymm, Zmm};
use super::{applies, pad_input, store_pixels, tap_offsets, usable, with_scratch};
use super::{Rounding, MAX_W};
use crate::kernels::conv::Conv2dGeometry;
use crate::kernels::isa::Isa;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m256, __m512};

/// One sample's forward operands: the padded input planes (`c_in` planes of `plane` floats,
/// row stride `wp`) and the weights re-laid as `wt[t * c_out + o]`, `t = (c·kh + u)·kw + v`.
struct Fwd<'a> {
    g: &'a Conv2dGeometry,
    /// `g.out_h()`, `g.out_w()`.
    oh: usize,
    ow: usize,
    xp: &'a [f32],
    wp: usize,
    wt: &'a [f32],
    /// Where tap `t` starts in `xp` ([`tap_offsets`]), and the largest of these.
    taps: &'a [usize],
    reach: usize,
    bias: Option<&'a [f32]>,
    /// Start chains at the bias instead of adding it at the end.
    from_bias: bool,
}

/// `OB` output channels from `o0` × `NV` vectors of `S::LANES` flat positions from `q0` of
/// one sample's output `y` (`c_out × oh × ow`): `OB × NV` accumulators, per tap `NV` loads
/// of the padded input and `OB` broadcast weights, one chain over the taps from 0 (or from the
/// bias) per output; the pixels among the positions stored from the registers (masked).
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn fwd_tile<S: Pixels, const OB: usize, const NV: usize>(
    a: &Fwd,
    o0: usize,
    q0: usize,
    y: &mut [f32],
) {
    let (g, l) = (a.g, S::LANES);
    // Every read below is in bounds: checked once here instead of per tap.
    assert!(a.reach + q0 + NV * l <= a.xp.len() && o0 + OB <= g.c_out);
    assert!(a.taps.len() * g.c_out <= a.wt.len());
    // SAFETY (the lane operations of this function): the CPU supports S (its contract).
    // (One initialization, not zeros overwritten when `from_bias`: the conditional copy made
    // the accumulators live in memory.)
    let mut acc = [[unsafe { S::zero() }; NV]; OB];
    for (r, acc_r) in acc.iter_mut().enumerate() {
        let start = if a.from_bias {
            a.bias.map_or(0.0, |b| b[o0 + r])
        } else {
            0.0
        };
        *acc_r = [unsafe { S::splat(start) }; NV];
    }
    let (xp, wt) = (
        a.xp.as_ptr().wrapping_add(q0),
        a.wt.as_ptr().wrapping_add(o0),
    );
    for (t, &off) in a.taps.iter().enumerate() {
        // SAFETY: off + q0 + NV·LANES <= reach + q0 + NV·LANES <= xp.len() and
        // t·c_out + o0 + OB <= taps.len()·c_out <= wt.len() (asserted above).
        unsafe {
            let x = xp.add(off);
            let mut xv = [S::zero(); NV];
            for (n, xn) in xv.iter_mut().enumerate() {
                *xn = S::load(x.add(n * l));
            }
            let ws = wt.add(t * g.c_out);
            for (r, acc_r) in acc.iter_mut().enumerate() {
                let wb = S::splat(*ws.add(r));
                for (x, &xn) in acc_r.iter_mut().zip(&xv) {
                    *x = S::mul_add(wb, xn, *x);
                }
            }
        }
    }
    // The bias is added in the lanes (`x + b`, with b = 0 when there is none, as the im2col
    // path adds its prefilled output), then the pixels are stored (from a copy in memory:
    // indexing the accumulators in the store loops would keep them in memory throughout).
    let mut out = [[unsafe { S::zero() }; NV]; OB];
    for ((r, acc_r), out_r) in acc.iter_mut().enumerate().zip(out.iter_mut()) {
        if !a.from_bias {
            let b = unsafe { S::splat(a.bias.map_or(0.0, |b| b[o0 + r])) };
            for x in acc_r.iter_mut() {
                *x = unsafe { S::add(*x, b) };
            }
        }
        *out_r = *acc_r;
    }
    let (p_len, grid) = (a.oh * a.ow, (a.oh, a.ow, a.wp));
    for (r, out_r) in out.iter().enumerate() {
        let y_r = &mut y[(o0 + r) * p_len..(o0 + r + 1) * p_len];
        for (n, &x) in out_r.iter().enumerate() {
            unsafe { store_pixels::<S>(x, q0 + n * l, grid, y_r) };
        }
    }
}

/// One tile of `OB` channels from `o0` over the positions `q0 .. q_len` (fewer than
/// `NV` vectors' worth), with as many vectors as they need.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn fwd_tail<S: Pixels, const OB: usize, const NV: usize>(
    a: &Fwd,
    (o0, q0): (usize, usize),
    y: &mut [f32],
) {
    // SAFETY (all calls): this function's contract.
    match (a.oh * a.wp - q0).div_ceil(S::LANES) {
        0 => {}
        1 => unsafe { fwd_tile::<S, OB, 1>(a, o0, q0, y) },
        2 => unsafe { fwd_tile::<S, OB, 2>(a, o0, q0, y) },
        3 => unsafe { fwd_tile::<S, OB, 3>(a, o0, q0, y) },
        _ => unsafe { fwd_tile::<S, OB, NV>(a, o0, q0, y) },
    }
}

/// All tiles of one sample: `OB`-channel blocks of `NV` vectors, position blocks outside
/// channel blocks (one position block's input window stays in L1 for all channels), the
/// last positions in tiles of fewer vectors; then the leftover channels one at a time with
/// `NV1` vectors.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn fwd_sample<S: Pixels, const OB: usize, const NV: usize, const NV1: usize>(
    a: &Fwd,
    y: &mut [f32],
) {
    let (q_len, blocks) = (a.oh * a.wp, a.g.c_out / OB * OB);
    let (w, w1) = (NV * S::LANES, NV1 * S::LANES);
    let (full, full1) = (q_len / w * w, q_len / w1 * w1);
    // SAFETY (all calls): this function's contract.
    for q0 in (0..full).step_by(w) {
        for o0 in (0..blocks).step_by(OB) {
            unsafe { fwd_tile::<S, OB, NV>(a, o0, q0, y) };
        }
    }
    for o0 in (0..blocks).step_by(OB) {
        unsafe { fwd_tail::<S, OB, NV>(a, (o0, full), y) };
    }
    for o in blocks..a.g.c_out {
        for q0 in (0..full1).step_by(w1) {
            unsafe { fwd_tile::<S, 1, NV1>(a, o, q0, y) };
        }
        unsafe { fwd_tail::<S, 1, NV1>(a, (o, full1), y) };
    }
}

/// [`fwd_sample`] on AVX-512 lanes (`S` = [`Zmm`], fused, or `Unfused<Zmm>`): 8 channels ×
/// 3 zmm (24 chains, 3 input vectors and the broadcast: 28 of the 32 registers), leftovers
/// 1 × 8 zmm. Measured in one process, alternating (Sapphire Rapids, 32×16×14×14 k32, thread
/// CPU time): 8 × 2 and 4 × 6 within 3 %, 6 × 4 7 % and 12 × 2 30 % slower.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn fwd_avx512<S: Pixels<V = __m512>>(a: &Fwd, y: &mut [f32]) {
    // SAFETY: `S`'s vectors are zmm registers, which this function's contract lets it use.
    unsafe { fwd_sample::<S, 8, 3, 8>(a, y) }
}

/// [`fwd_sample`] on AVX2 lanes (`S` = [`Ymm`] or `Unfused<Ymm>`): 4 channels × 3 ymm, 12
/// accumulators, 3 input vectors and the broadcast weight filling the 16 registers (measured
/// on Zen 2, `GI_CONV_CPU_TABLE=1` bench column `fwd dir`, against 6 × 2, 3 × 4, 8 × 1 and
/// 2 × 6: the fastest on both 16-channel shapes; the input gradient's tile likewise);
/// leftovers 1 × 8 ymm.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn fwd_avx2<S: Pixels<V = __m256>>(a: &Fwd, y: &mut [f32]) {
    // SAFETY: `S`'s vectors are ymm registers, which this function's contract lets it use.
    unsafe { fwd_sample::<S, 4, 3, 8>(a, y) }
}

/// One sample on `isa` (supported, checked by the caller) with fused or plain products.
fn fwd_dispatch(isa: Isa, fused: bool, a: &Fwd, y: &mut [f32]) {
    // SAFETY (each arm): the entry's target features are those of `isa`, which the public
    // entry point checked with `Isa::is_supported` (AVX-512 implies AVX2 + FMA there); the
    // plain lanes run on every CPU.
    match (isa, fused) {
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, true) => unsafe { fwd_avx512::<Zmm>(a, y) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, false) => unsafe { fwd_avx512::<Unfused<Zmm>>(a, y) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, true) => unsafe { fwd_avx2::<Ymm>(a, y) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, false) => unsafe { fwd_avx2::<Unfused<Ymm>>(a, y) },
        (_, true) => unsafe { fwd_sample::<FusedLanes, 4, 2, 8>(a, y) },
        (_, false) => unsafe { fwd_sample::<Unfused<Portable>, 4, 2, 8>(a, y) },
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
    let what = "conv2d_forward_direct";
    assert!(applies(g), "{what}: stride 1 and a non-empty geometry");
    assert_eq!(input.len(), g.input_len(), "{what}: input");
    assert_eq!(weight.len(), g.weight_len(), "{what}: weight");
    assert_eq!(output.len(), g.output_len(), "{what}: output");
    if let Some(b) = bias {
        assert_eq!(b.len(), g.c_out, "{what}: bias");
    }
    let isa = usable(isa);
    let fused = rounding.fused(isa);
    let (hp, wp) = (g.h + 2 * g.pad, g.w + 2 * g.pad);
    // Valid positions read up to (kh-1 + oh-1)·wp + kw-1 + ow-1 = hp·wp - 1; the other lanes
    // of a plane's last tile read the next plane or, after the last plane, the slack: a tile
    // at the last position reads up to MAX_W - 1 + (kh-1)·wp + kw-1 past it.
    let (plane, slack) = (hp * wp, MAX_W + g.kw);
    let k = g.col_rows();
    let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * g.out_h() * g.out_w());
    let taps = tap_offsets(g, plane, wp);
    with_scratch((g.c_in * plane + slack, k * g.c_out), |xp, wt| {
        for o in 0..g.c_out {
            for t in 0..k {
                wt[t * g.c_out + o] = weight[o * k + t];
            }
        }
        for b in 0..g.n {
            let x_b = &input[b * in_len..(b + 1) * in_len];
            pad_input(isa, g, x_b, (plane, wp), xp);
            let a = Fwd {
                g,
                oh: g.out_h(),
                ow: g.out_w(),
                xp,
                wp,
                wt,
                taps: &taps,
                reach: taps.iter().copied().max().unwrap_or(0),
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
            for (t, &off) in a.taps.iter().enumerate() {
                let (wv, xv) = (a.wt[t * g.c_out + o], a.xp[off + i * a.wp + j]);
                acc = if fused {
                    wv.mul_add(xv, acc)
                } else {
                    acc + wv * xv
                };
            }
            y[(o * oh + i) * ow + j] = acc;
        }
    }
}
