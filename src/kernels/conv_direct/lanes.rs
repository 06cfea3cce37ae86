//! The vector operations the direct tiles are written in: sgemm's [`Simd`] lanes (AVX-512
//! [`Zmm`], AVX2 [`Ymm`], portable 4-lane arrays), two variants for roundings those do not
//! have ([`Unfused`]: multiply, then add; [`FusedLanes`]: portable arrays with a fused
//! multiply-add per lane), [`Pixels`]: masked loads and stores of some lanes of a vector (a
//! tile's pixels of one image row, straight from and to the registers).
//!
//! One tile body generic over the lanes serves every ISA and rounding: compiled inside a
//! `#[target_feature]` entry point its accumulator array lives in registers, and each lane
//! operation is the one instruction (or, for the plain lanes, the one expression per lane) of
//! the im2col product whose rounding it reproduces.

pub(super) use crate::kernels::matmul::lanes::{Portable, Simd};
#[cfg(target_arch = "x86_64")]
pub(super) use crate::kernels::matmul::lanes::{Ymm, Zmm};
#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::{
    __m256, __m256i, __m512, _mm256_and_si256, _mm256_blendv_ps, _mm256_castsi256_ps,
    _mm256_cmpgt_epi32, _mm256_maskload_ps, _mm256_maskstore_ps, _mm256_set1_epi32,
    _mm256_setr_epi32, _mm512_mask_loadu_ps, _mm512_mask_storeu_ps,
};
use std::marker::PhantomData;

/// Loads and stores of the lanes `lo .. hi` of a vector only (a tile's lanes that are pixels
/// of one image row): masked instructions on AVX-512 and AVX2, lane by lane elsewhere.
///
/// # Safety
/// As [`Simd`]'s, except that only the lanes `lo .. hi` (`lo < hi <= LANES`) of `p` need be
/// valid: `p` itself may point outside the allocation (formed with wrapping arithmetic).
pub(super) trait Pixels: Simd {
    /// Stores lanes `lo .. hi` of `v` at `p + lo .. p + hi`.
    #[inline(always)]
    unsafe fn store_lanes(p: *mut f32, v: Self::V, (lo, hi): (usize, usize)) {
        let mut tmp = [0.0f32; 16];
        // SAFETY: tmp holds LANES <= 16 floats; p + lo .. p + hi is writable (the contract).
        unsafe {
            Self::store(tmp.as_mut_ptr(), v);
            for (l, &x) in tmp.iter().enumerate().take(hi).skip(lo) {
                p.wrapping_add(l).write(x);
            }
        }
    }
    /// `v` with lanes `lo .. hi` loaded from `p + lo .. p + hi`.
    #[inline(always)]
    unsafe fn load_lanes(p: *const f32, v: Self::V, (lo, hi): (usize, usize)) -> Self::V {
        let mut tmp = [0.0f32; 16];
        // SAFETY: as in `store_lanes`, reading.
        unsafe {
            Self::store(tmp.as_mut_ptr(), v);
            for (l, x) in tmp.iter_mut().enumerate().take(hi).skip(lo) {
                *x = p.wrapping_add(l).read();
            }
            Self::load(tmp.as_ptr())
        }
    }
}

impl Pixels for Portable {}
impl Pixels for FusedLanes {}

// SAFETY (both methods): the mask enables exactly the lanes lo .. hi, which the caller
// guarantees are valid; masked-off lanes are neither read nor written and never fault. The CPU
// supports AVX-512F (the `Simd` contract).
#[cfg(target_arch = "x86_64")]
impl Pixels for Zmm {
    #[inline(always)]
    unsafe fn store_lanes(p: *mut f32, v: __m512, (lo, hi): (usize, usize)) {
        let mask = ((1u32 << hi) - (1u32 << lo)) as u16;
        unsafe { _mm512_mask_storeu_ps(p, mask, v) }
    }
    #[inline(always)]
    unsafe fn load_lanes(p: *const f32, v: __m512, (lo, hi): (usize, usize)) -> __m512 {
        let mask = ((1u32 << hi) - (1u32 << lo)) as u16;
        unsafe { _mm512_mask_loadu_ps(v, mask, p) }
    }
}

/// The AVX2 lane mask of lanes `lo .. hi` (sign bits set).
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
unsafe fn ymm_mask((lo, hi): (usize, usize)) -> __m256i {
    // SAFETY: integer vector operations; the CPU supports AVX2 (the contract).
    unsafe {
        let lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        let above = _mm256_cmpgt_epi32(lane, _mm256_set1_epi32(lo as i32 - 1));
        _mm256_and_si256(
            above,
            _mm256_cmpgt_epi32(_mm256_set1_epi32(hi as i32), lane),
        )
    }
}

// SAFETY (both methods): as for `Zmm`, with AVX2's masked moves.
#[cfg(target_arch = "x86_64")]
impl Pixels for Ymm {
    #[inline(always)]
    unsafe fn store_lanes(p: *mut f32, v: __m256, lanes: (usize, usize)) {
        unsafe { _mm256_maskstore_ps(p, ymm_mask(lanes), v) }
    }
    #[inline(always)]
    unsafe fn load_lanes(p: *const f32, v: __m256, lanes: (usize, usize)) -> __m256 {
        unsafe {
            let mask = ymm_mask(lanes);
            _mm256_blendv_ps(v, _mm256_maskload_ps(p, mask), _mm256_castsi256_ps(mask))
        }
    }
}

// SAFETY (both methods): forwards to `S`, whose contract is this impl's.
impl<S: Pixels> Pixels for Unfused<S> {
    #[inline(always)]
    unsafe fn store_lanes(p: *mut f32, v: S::V, lanes: (usize, usize)) {
        unsafe { S::store_lanes(p, v, lanes) }
    }
    #[inline(always)]
    unsafe fn load_lanes(p: *const f32, v: S::V, lanes: (usize, usize)) -> S::V {
        unsafe { S::load_lanes(p, v, lanes) }
    }
}

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
