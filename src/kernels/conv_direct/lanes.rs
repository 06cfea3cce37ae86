//! The vector operations the direct tiles are written in: sgemm's [`Simd`] lanes (AVX-512
//! [`Zmm`], AVX2 [`Ymm`], portable 4-lane arrays), two variants for roundings those do not
//! have ([`Unfused`]: multiply, then add; [`FusedLanes`]: portable arrays with a fused
//! multiply-add per lane), and the loads and stores of a run of `NV` vectors.
//!
//! One tile body generic over the lanes serves every ISA and rounding: compiled inside a
//! `#[target_feature]` entry point its accumulator array lives in registers, and each lane
//! operation is the one instruction (or, for the plain lanes, the one expression per lane) of
//! the im2col product whose rounding it reproduces.

pub(super) use crate::kernels::matmul::lanes::{Portable, Simd};
#[cfg(target_arch = "x86_64")]
pub(super) use crate::kernels::matmul::lanes::{Ymm, Zmm};
use std::marker::PhantomData;

/// The lanes `S` with `mul_add(a, b, c)` computed as `c + a·b` in two roundings (a multiply,
/// then an add): the unfused roundings on an ISA whose `S` fuses.
pub(super) struct Unfused<S>(PhantomData<S>);

// SAFETY (every method): each forwards to `S`'s operations, whose contract (the CPU supports
// `S`'s instruction set; pointers valid for `LANES` floats) is this impl's.
impl<S: Simd> Simd for Unfused<S> {
    type V = S::V;
    const LANES: usize = S::LANES;
    #[inline(always)]
    unsafe fn zero() -> S::V {
        unsafe { S::zero() }
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> S::V {
        unsafe { S::splat(x) }
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> S::V {
        unsafe { S::load(p) }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: S::V) {
        unsafe { S::store(p, v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: S::V, b: S::V, c: S::V) -> S::V {
        unsafe { S::add(c, S::mul(a, b)) }
    }
    #[inline(always)]
    unsafe fn mul(a: S::V, b: S::V) -> S::V {
        unsafe { S::mul(a, b) }
    }
    #[inline(always)]
    unsafe fn add(a: S::V, b: S::V) -> S::V {
        unsafe { S::add(a, b) }
    }
}

/// Plain 4-lane arrays with a fused multiply-add per lane (`f32::mul_add`): a fused rounding
/// on an ISA without intrinsics lanes here (NEON's packed products).
pub(super) struct FusedLanes;

type F4 = [f32; 4];

// SAFETY (every method): plain arithmetic, which runs on every CPU; the pointers are valid
// for 4 floats (the `Simd` contract), so the unaligned reads and writes stay in bounds.
impl Simd for FusedLanes {
    type V = F4;
    const LANES: usize = 4;
    #[inline(always)]
    unsafe fn zero() -> F4 {
        [0.0; 4]
    }
    #[inline(always)]
    unsafe fn splat(x: f32) -> F4 {
        [x; 4]
    }
    #[inline(always)]
    unsafe fn load(p: *const f32) -> F4 {
        unsafe { (p as *const F4).read_unaligned() }
    }
    #[inline(always)]
    unsafe fn store(p: *mut f32, v: F4) {
        unsafe { (p as *mut F4).write_unaligned(v) }
    }
    #[inline(always)]
    unsafe fn mul_add(a: F4, b: F4, c: F4) -> F4 {
        std::array::from_fn(|l| a[l].mul_add(b[l], c[l]))
    }
    #[inline(always)]
    unsafe fn mul(a: F4, b: F4) -> F4 {
        std::array::from_fn(|l| a[l] * b[l])
    }
    #[inline(always)]
    unsafe fn add(a: F4, b: F4) -> F4 {
        std::array::from_fn(|l| a[l] + b[l])
    }
}

/// `NV` vectors from the first `NV · S::LANES` floats of `xs`.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
pub(super) unsafe fn load_run<S: Simd, const NV: usize>(xs: &[f32]) -> [S::V; NV] {
    let xs = &xs[..NV * S::LANES];
    // SAFETY: the CPU supports S (this function's contract).
    let mut v = [unsafe { S::zero() }; NV];
    for (n, x) in v.iter_mut().enumerate() {
        // SAFETY: LANES·n + LANES <= NV·LANES = xs.len() (sliced above); the CPU supports S.
        *x = unsafe { S::load(xs.as_ptr().add(S::LANES * n)) };
    }
    v
}

/// Stores `v` into the first `NV · S::LANES` floats of `out`.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
pub(super) unsafe fn store_run<S: Simd, const NV: usize>(v: &[S::V; NV], out: &mut [f32]) {
    let out = &mut out[..NV * S::LANES];
    for (n, &x) in v.iter().enumerate() {
        // SAFETY: LANES·n + LANES <= NV·LANES = out.len() (sliced above); the CPU supports S.
        unsafe { S::store(out.as_mut_ptr().add(S::LANES * n), x) };
    }
}

/// `acc[r] += wv[r] · xs` for every row `r`, lane by lane (`S::mul_add`): one step of `R × NV`
/// chains, the row's scalar broadcast.
///
/// # Safety
/// The CPU must support `S`'s instructions.
#[inline(always)]
pub(super) unsafe fn mul_add_rows<S: Simd, const R: usize, const NV: usize>(
    acc: &mut [[S::V; NV]; R],
    wv: &[f32],
    xs: &[S::V; NV],
) {
    for (acc_r, &w) in acc.iter_mut().zip(&wv[..R]) {
        // SAFETY: vector arithmetic only; the CPU supports S (this function's contract).
        unsafe {
            let wb = S::splat(w);
            for (x, &xn) in acc_r.iter_mut().zip(xs) {
                *x = S::mul_add(wb, xn, *x);
            }
        }
    }
}
