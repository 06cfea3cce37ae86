//! The direct input gradient: its operands, one tile body for every ISA and rounding, and the
//! per-ISA entry points.

use super::lanes::{FusedLanes, Pixels, Portable, Unfused};
#[cfg(target_arch = "x86_64")]
use super::lanes::{Ymm, Zmm};
use super::{applies, load_pixels, place_planes, store_pixels, tile_starts, usable, with_scratch};
use super::{Rounding, MAX_W};
use crate::kernels::conv::Conv2dGeometry;
use crate::kernels::isa::Isa;
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{__m256, __m512};

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

/// `CB` input channels from `c0` × `NV` vectors of `S::LANES` flat positions from `q0`
/// (`q = y·wq + x`) of one sample's input gradient `dx` (`c_in × h × w`), accumulated: per
/// tap `(u, v)`, `CB × NV` chains over the output channels from 0, then added onto running
/// sums that start at the old gradient (loaded and stored masked, pixels only).
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn bwd_tile<S: Pixels, const CB: usize, const NV: usize>(
    a: &Bwd,
    c0: usize,
    q0: usize,
    dx: &mut [f32],
) {
    let (g, l) = (a.g, S::LANES);
    let (in_plane, grid) = (g.h * g.w, (g.h, g.w, a.wq));
    // Every read below is in bounds: the largest shift is the one of tap (0, 0).
    let reach = (g.pad + g.kh - 1) * a.wq + g.pad + g.kw - 1;
    assert!((g.c_out - 1) * a.plane + q0 + reach + NV * l <= a.dyp.len());
    assert!(c0 + CB <= g.c_in && g.kh * g.kw * g.c_out * g.c_in <= a.wb.len());
    // The running sums, in memory (L1): keeping them in registers too would spill the chains.
    // SAFETY (the lane operations of this function): the CPU supports S (its contract).
    let mut s = [[unsafe { S::zero() }; NV]; CB];
    for (r, s_r) in s.iter_mut().enumerate() {
        let dx_r = &dx[(c0 + r) * in_plane..(c0 + r + 1) * in_plane];
        for (n, x) in s_r.iter_mut().enumerate() {
            *x = unsafe { load_pixels::<S>(q0 + n * l, grid, dx_r) };
        }
    }
    for u in 0..g.kh {
        for v in 0..g.kw {
            let shift = (g.pad + g.kh - 1 - u) * a.wq + g.pad + g.kw - 1 - v;
            let mut t = [[unsafe { S::zero() }; NV]; CB];
            let wtap =
                a.wb.as_ptr()
                    .wrapping_add((u * g.kw + v) * g.c_out * g.c_in + c0);
            let dy = a.dyp.as_ptr().wrapping_add(q0 + shift);
            for o in 0..g.c_out {
                // SAFETY: o·plane + q0 + shift + NV·LANES <= dyp.len() and
                // ((u·kw + v)·c_out + o)·c_in + c0 + CB <= wb.len() (asserted above).
                unsafe {
                    let d = dy.add(o * a.plane);
                    let mut dv = [S::zero(); NV];
                    for (n, dn) in dv.iter_mut().enumerate() {
                        *dn = S::load(d.add(n * l));
                    }
                    let ws = wtap.add(o * g.c_in);
                    for (r, t_r) in t.iter_mut().enumerate() {
                        let wb = S::splat(*ws.add(r));
                        for (x, &dn) in t_r.iter_mut().zip(&dv) {
                            *x = S::mul_add(wb, dn, *x);
                        }
                    }
                }
            }
            for (s_r, t_r) in s.iter_mut().zip(&t) {
                for (x, &tn) in s_r.iter_mut().zip(t_r) {
                    *x = unsafe { S::add(*x, tn) };
                }
            }
        }
    }
    for (r, s_r) in s.iter().enumerate() {
        let dx_r = &mut dx[(c0 + r) * in_plane..(c0 + r + 1) * in_plane];
        for (n, &x) in s_r.iter().enumerate() {
            unsafe { store_pixels::<S>(x, q0 + n * l, grid, dx_r) };
        }
    }
}

/// All tiles of one sample: `CB`-channel blocks of `NV` vectors, then the leftover input
/// channels one at a time with `NV1` vectors.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn bwd_sample<S: Pixels, const CB: usize, const NV: usize, const NV1: usize>(
    a: &Bwd,
    dx: &mut [f32],
) {
    let (g, l) = (a.g, S::LANES);
    for (c, q0, full) in tile_starts((g.c_in, g.h * a.wq), (CB, NV * l, NV1 * l)) {
        // SAFETY: this function's contract.
        match full {
            true => unsafe { bwd_tile::<S, CB, NV>(a, c, q0, dx) },
            false => unsafe { bwd_tile::<S, 1, NV1>(a, c, q0, dx) },
        }
    }
}

/// [`bwd_sample`] on AVX-512 lanes (`S` = [`Zmm`] or `Unfused<Zmm>`): 8 input channels × 2
/// zmm (16 chains), leftovers 1 × 8 zmm.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn bwd_avx512<S: Pixels<V = __m512>>(a: &Bwd, dx: &mut [f32]) {
    // SAFETY: `S`'s vectors are zmm registers, which this function's contract lets it use.
    unsafe { bwd_sample::<S, 8, 2, 8>(a, dx) }
}

/// [`bwd_sample`] on AVX2 lanes (`S` = [`Ymm`] or `Unfused<Ymm>`): 4 input channels × 3 ymm
/// (as the forward, measured likewise), leftovers 1 × 8 ymm.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn bwd_avx2<S: Pixels<V = __m256>>(a: &Bwd, dx: &mut [f32]) {
    // SAFETY: `S`'s vectors are ymm registers, which this function's contract lets it use.
    unsafe { bwd_sample::<S, 4, 3, 8>(a, dx) }
}

/// One sample on `isa` (supported, checked by the caller) with fused or plain products.
fn bwd_dispatch(isa: Isa, fused: bool, a: &Bwd, dx: &mut [f32]) {
    // SAFETY (each arm): as in `forward::fwd_dispatch`.
    match (isa, fused) {
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, true) => unsafe { bwd_avx512::<Zmm>(a, dx) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx512, false) => unsafe { bwd_avx512::<Unfused<Zmm>>(a, dx) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, true) => unsafe { bwd_avx2::<Ymm>(a, dx) },
        #[cfg(target_arch = "x86_64")]
        (Isa::Avx2Fma, false) => unsafe { bwd_avx2::<Unfused<Ymm>>(a, dx) },
        (_, true) => unsafe { bwd_sample::<FusedLanes, 4, 2, 8>(a, dx) },
        (_, false) => unsafe { bwd_sample::<Unfused<Portable>, 4, 2, 8>(a, dx) },
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
    let what = "conv2d_backward_input_direct";
    assert!(applies(g), "{what}: stride 1 and a non-empty geometry");
    assert_eq!(grad_output.len(), g.output_len(), "{what}: grad_output");
    assert_eq!(weight.len(), g.weight_len(), "{what}: weight");
    assert_eq!(grad_input.len(), g.input_len(), "{what}: grad_input");
    let isa = usable(isa);
    let fused = rounding.fused(isa);
    let (oh, ow) = (g.out_h(), g.out_w());
    // Valid input positions read columns up to w-1 + p + kw-1, and the data spans columns
    // kw-1 .. kw-1+ow = w+2p.
    let wq = (g.w + 2 * g.pad).max(g.w + g.pad + g.kw - 1);
    // Rows: the data ends at row kh-1+oh = h+2p; valid positions read up to row h+p+kh-2.
    // Positions past a plane's last pixel (in a tile's last lanes) read the next plane or,
    // after the last plane, the slack: a tile starting before h·wq reads up to
    // MAX_W - 1 + (p+kh-1)·wq + p+kw-1 past its start.
    let plane = (g.h + 2 * g.pad).max(g.h + g.pad + g.kh - 1) * wq;
    let slack = (g.pad + g.kh) * wq + MAX_W;
    let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * oh * ow);
    with_scratch(
        (g.c_out * plane + slack, g.col_rows() * g.c_out),
        |dyp, wb| {
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
                let at = (g.kh - 1) * wq + g.kw - 1;
                place_planes(isa, dy_b, (oh, ow), (plane, wq, at), dyp);
                let a = Bwd {
                    g,
                    dyp,
                    plane,
                    wq,
                    wb,
                };
                let dx_b = &mut grad_input[b * in_len..(b + 1) * in_len];
                bwd_dispatch(isa, fused, &a, dx_b);
            }
        },
    )
}
