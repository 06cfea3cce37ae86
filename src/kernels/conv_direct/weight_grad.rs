//! The direct weight gradient: its operands, the plain body, one register-tiled body generic
//! over the lanes, and its AVX2 entry point.

use super::lanes::Simd;
#[cfg(target_arch = "x86_64")]
use super::lanes::{Ymm, Zmm};
use super::{applies, madd, pad_input, tap_offsets, usable, with_scratch, Rounding};
use crate::kernels::conv::Conv2dGeometry;
use crate::kernels::isa::Isa;

/// One sample's weight-gradient operands: the padded input planes (as the forward's), the
/// output gradient transposed to `dyt[p * c_pad + o]` (`c_pad` = `c_out` rounded up to the
/// tiles' lanes, the extra lanes zero), and where each tap `t = (c·kh + u)·kw + v` starts in
/// `xp`.
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
/// per element from 0 in increasing `p`, fused or multiply-then-add, into the transposed
/// gradient `dwt[t * c_pad + o]`.
fn dw_chunk_generic<const FUSED: bool>(a: &Dw, qs: &[usize], p0: usize, dwt: &mut [f32]) {
    for o in 0..a.g.c_out {
        for (t, &off) in a.taps.iter().enumerate() {
            let mut acc = 0.0f32;
            for (n, &q) in qs.iter().enumerate() {
                acc = madd::<FUSED>(acc, a.dyt[(p0 + n) * a.c_pad + o], a.xp[off + q]);
            }
            dwt[t * a.c_pad + o] += acc;
        }
    }
}

/// [`dw_chunk_generic`] (fused) for `OV` vectors of `S::LANES` output channels from `o0` ×
/// `TB` taps from `t0`: `OV × TB` chains, per position `OV` loads of the transposed output
/// gradient and `TB` broadcasts of input values.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn dw_tile<S: Simd, const OV: usize, const TB: usize>(
    a: &Dw,
    qs: &[usize],
    (p0, o0, t0): (usize, usize, usize),
    dwt: &mut [f32],
) {
    let l = S::LANES;
    let offs: [usize; TB] = std::array::from_fn(|i| a.taps[t0 + i]);
    // Every read below is in bounds: checked once here instead of per element.
    let last_q = qs.last().copied().unwrap_or(0);
    assert!(offs.iter().all(|&off| off + last_q < a.xp.len()));
    assert!(o0 + l * OV <= a.c_pad && (p0 + qs.len()) * a.c_pad <= a.dyt.len());
    // SAFETY: the CPU supports S (this function's contract).
    let mut acc = [[unsafe { S::zero() }; OV]; TB];
    let (xp, dyt) = (a.xp.as_ptr(), a.dyt.as_ptr());
    for (n, &q) in qs.iter().enumerate() {
        // SAFETY: (p0 + n)·c_pad + o0 + LANES·OV <= dyt.len() and off + q <= off + last_q <
        // xp.len() (asserted above; qs increases); the CPU supports S (this function's
        // contract).
        unsafe {
            let ds = dyt.add((p0 + n) * a.c_pad + o0);
            let mut dv = [S::zero(); OV];
            for (v, d) in dv.iter_mut().enumerate() {
                *d = S::load(ds.add(l * v));
            }
            for (acc_t, &off) in acc.iter_mut().zip(&offs) {
                let xb = S::splat(*xp.add(off + q));
                for (x, &d) in acc_t.iter_mut().zip(&dv) {
                    *x = S::mul_add(d, xb, *x);
                }
            }
        }
    }
    // `dwt[t][o] += acc` in the lanes (the padding lanes add 0 to values never read).
    assert!((t0 + TB) * a.c_pad <= dwt.len());
    for (i, acc_t) in acc.iter().enumerate() {
        for (v, &x) in acc_t.iter().enumerate() {
            // SAFETY: (t0 + i)·c_pad + o0 + LANES·(v + 1) <= (t0 + TB)·c_pad <= dwt.len()
            // (asserted above); the CPU supports S (this function's contract).
            unsafe {
                let p = dwt.as_mut_ptr().add((t0 + i) * a.c_pad + o0 + l * v);
                S::store(p, S::add(S::load(p), x));
            }
        }
    }
}

/// All tiles of one chunk: `2 · S::LANES` channels × `TB` taps, then `S::LANES`-channel and
/// single-tap edges.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
unsafe fn dw_chunk<S: Simd, const TB: usize>(a: &Dw, qs: &[usize], p0: usize, dwt: &mut [f32]) {
    let (k, l) = (a.g.col_rows(), S::LANES);
    // SAFETY (all calls): this function's contract.
    let mut o0 = 0;
    while o0 < a.g.c_out {
        let wide = o0 + 2 * l <= a.c_pad;
        let mut t0 = 0;
        while t0 + TB <= k {
            match wide {
                true => unsafe { dw_tile::<S, 2, TB>(a, qs, (p0, o0, t0), dwt) },
                false => unsafe { dw_tile::<S, 1, TB>(a, qs, (p0, o0, t0), dwt) },
            }
            t0 += TB;
        }
        for t in t0..k {
            match wide {
                true => unsafe { dw_tile::<S, 2, 1>(a, qs, (p0, o0, t), dwt) },
                false => unsafe { dw_tile::<S, 1, 1>(a, qs, (p0, o0, t), dwt) },
            }
        }
        o0 += if wide { 2 * l } else { l };
    }
}

/// [`dw_chunk`] on AVX2: 16 channels × 6 taps (12 ymm chains, 2 gradient vectors and one
/// broadcast: 15 registers), then 8-channel and single-tap edges.
///
/// # Safety
/// The CPU must support AVX2 and FMA.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn dw_chunk_avx2(a: &Dw, qs: &[usize], p0: usize, dwt: &mut [f32]) {
    // SAFETY: ymm lanes, which this function's contract lets it use.
    unsafe { dw_chunk::<Ymm, 6>(a, qs, p0, dwt) }
}

/// [`dw_chunk`] on AVX-512: 32 channels × 8 taps (16 zmm chains, 2 gradient vectors and one
/// broadcast; 4, 6 and 8 taps measured level on 32×16×14×14 k32, 12 slower), then 16-channel
/// and single-tap edges.
///
/// # Safety
/// The CPU must support AVX-512F.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx2,fma")]
unsafe fn dw_chunk_avx512(a: &Dw, qs: &[usize], p0: usize, dwt: &mut [f32]) {
    // SAFETY: zmm lanes, which this function's contract lets it use.
    unsafe { dw_chunk::<Zmm, 8>(a, qs, p0, dwt) }
}

/// Direct weight gradient (stride 1, see [`applies`]): `dW += Σ_b dY_b · X_colᵀ` without the
/// column matrix, with the rounding of im2col + packed sgemm on `isa` whose reduction over the
/// `oh·ow` output pixels is cut into chunks of `chunk`
/// ([`crate::kernels::matmul::packed_k_chunk`]):
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
    // Valid positions read up to (kh-1 + oh-1)·wp + kw-1 + ow-1 = hp·wp - 1; padding the
    // last plane writes up to 16 floats past it.
    let plane = hp * wp;
    let p_len = g.out_h() * g.out_w();
    // The tiles' lanes: 16 for the AVX-512 tile, else 8 (the generic body reads any).
    let lanes = if isa == Isa::Avx512 && fused { 16 } else { 8 };
    let c_pad = g.c_out.div_ceil(lanes) * lanes;
    let (in_len, out_len) = (g.c_in * g.h * g.w, g.c_out * p_len);
    let taps = tap_offsets(g, plane, wp);
    let chunks: Vec<(usize, Vec<usize>)> = (0..p_len)
        .step_by(chunk)
        .map(|p0| (p0, dw_positions(g, wp, (p0, (p0 + chunk).min(p_len)))))
        .collect();
    let k = g.col_rows();
    with_scratch((g.c_in * plane + 16, (p_len + k) * c_pad), |xp, bufs| {
        // The gradient transposed, `dwt[t * c_pad + o]`, for whole-vector updates per tile
        // (the same one addition per element, sample and chunk as in place).
        let (dyt, dwt) = bufs.split_at_mut(p_len * c_pad);
        for (t, row) in dwt.chunks_exact_mut(c_pad).enumerate() {
            for (o, x) in row.iter_mut().enumerate() {
                *x = if o < g.c_out {
                    grad_weight[o * k + t]
                } else {
                    0.0
                };
            }
        }
        for b in 0..g.n {
            let x_b = &input[b * in_len..(b + 1) * in_len];
            pad_input(isa, g, x_b, (plane, wp), xp);
            transpose_dy(g, &grad_output[b * out_len..(b + 1) * out_len], c_pad, dyt);
            let a = Dw {
                g,
                xp,
                dyt,
                c_pad,
                taps: &taps,
            };
            for (p0, qs) in &chunks {
                // SAFETY: each body needs the target features of `isa` (supported, checked by
                // `usable`; AVX-512 implies AVX2 + FMA here).
                match (isa, fused) {
                    #[cfg(target_arch = "x86_64")]
                    (Isa::Avx512, true) => unsafe { dw_chunk_avx512(&a, qs, *p0, dwt) },
                    #[cfg(target_arch = "x86_64")]
                    (Isa::Avx2Fma, true) => unsafe { dw_chunk_avx2(&a, qs, *p0, dwt) },
                    (_, true) => dw_chunk_generic::<true>(&a, qs, *p0, dwt),
                    (_, false) => dw_chunk_generic::<false>(&a, qs, *p0, dwt),
                }
            }
        }
        for (o, dw_o) in grad_weight.chunks_exact_mut(k).enumerate() {
            for (t, x) in dw_o.iter_mut().enumerate() {
                *x = dwt[t * c_pad + o];
            }
        }
    })
}

/// `dyt[p * c_pad + o] = dy_b[o * p_len + p]`, the lanes `o >= c_out` zero (the scratch is
/// stale, see `with_scratch`), in blocks of 8 positions: per channel one contiguous read,
/// and the block's 8 rows of `dyt` stay in L1 for all channels.
fn transpose_dy(g: &Conv2dGeometry, dy_b: &[f32], c_pad: usize, dyt: &mut [f32]) {
    let p_len = g.out_h() * g.out_w();
    let dyt = &mut dyt[..p_len * c_pad];
    for p0 in (0..p_len).step_by(8) {
        let block = 8.min(p_len - p0);
        let rows = &mut dyt[p0 * c_pad..(p0 + block) * c_pad];
        for (o, dy_o) in dy_b.chunks_exact(p_len).enumerate() {
            for (j, &d) in dy_o[p0..p0 + block].iter().enumerate() {
                rows[j * c_pad + o] = d;
            }
        }
        for row in rows.chunks_exact_mut(c_pad) {
            row[g.c_out..].fill(0.0);
        }
    }
}
