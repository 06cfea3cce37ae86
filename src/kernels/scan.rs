//! One-pass scans of a slice: the sum of squares in a fixed lane structure, and a search for
//! −0. Both are the checks a training step makes over a whole weight matrix or gradient
//! (finite? how large? any −0?), so they are worth running at the CPU's vector width.
//!
//! The sum keeps [`LANES`] independent f32 partial sums, value `i` going to lane `i % LANES`
//! in increasing `i`. That order is part of the result: every ISA computes exactly it (a
//! multiply, then an add, per value; no fused multiply-add), so all give the same bits.
//! With 32 lanes the AVX-512 body holds two 16-float accumulators, AVX2 four, the portable
//! body eight 4-float ones.

use super::isa::{self, Isa};

/// The number of partial sums of [`sum_squares_lanes`].
pub const LANES: usize = 32;

/// The partial sums of squares by the definition: lane `l` is `Σ v_i²` over `i % LANES == l`,
/// summed in increasing `i` from +0.
pub fn sum_squares_lanes_reference(data: &[f32]) -> [f32; LANES] {
    let mut sq = [0.0f32; LANES];
    for (i, &v) in data.iter().enumerate() {
        sq[i % LANES] += v * v;
    }
    sq
}

/// [`sum_squares_lanes_reference`] on the selected ISA ([`isa::selected`]).
pub fn sum_squares_lanes(data: &[f32]) -> [f32; LANES] {
    sum_squares_lanes_with(isa::selected(), data)
}

/// [`sum_squares_lanes_reference`] on `isa` (an unsupported one falls back to the best):
/// the same bits on every ISA.
pub fn sum_squares_lanes_with(isa: Isa, data: &[f32]) -> [f32; LANES] {
    match supported_or_best(isa) {
        // SAFETY: `supported_or_best` returned this ISA only because the CPU has its
        // features, which is all the `#[target_feature]` wrapper requires.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { sum_squares_avx512(data) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { sum_squares_avx2(data) },
        _ => sum_squares_body(data),
    }
}

/// Whether `data` holds a −0, by the definition.
pub fn contains_negative_zero_reference(data: &[f32]) -> bool {
    data.iter().any(|v| v.to_bits() == NEG_ZERO)
}

/// [`contains_negative_zero_reference`] on the selected ISA ([`isa::selected`]).
pub fn contains_negative_zero(data: &[f32]) -> bool {
    contains_negative_zero_with(isa::selected(), data)
}

/// [`contains_negative_zero_reference`] on `isa` (an unsupported one falls back to the best).
pub fn contains_negative_zero_with(isa: Isa, data: &[f32]) -> bool {
    match supported_or_best(isa) {
        // SAFETY: as in `sum_squares_lanes_with`.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx512 => unsafe { negative_zero_avx512(data) },
        // SAFETY: as above.
        #[cfg(target_arch = "x86_64")]
        Isa::Avx2Fma => unsafe { negative_zero_avx2(data) },
        _ => negative_zero_body(data),
    }
}

const NEG_ZERO: u32 = 0x8000_0000;

fn supported_or_best(isa: Isa) -> Isa {
    if isa.is_supported() {
        isa
    } else {
        isa::best()
    }
}

/// The lane loop over whole chunks of [`LANES`] (which the compiler turns into vector
/// multiplies and adds at the wrapper's width), then the remainder into lanes 0, 1, …
#[inline(always)]
fn sum_squares_body(data: &[f32]) -> [f32; LANES] {
    let mut sq = [0.0f32; LANES];
    let mut chunks = data.chunks_exact(LANES);
    for c in &mut chunks {
        for l in 0..LANES {
            sq[l] += c[l] * c[l];
        }
    }
    for (l, &v) in chunks.remainder().iter().enumerate() {
        sq[l] += v * v;
    }
    sq
}

/// The search as a minimum, which vectorizes (a short-circuiting `any` does not): with
/// `x = bits ^ bits(−0)`, the slice holds a −0 exactly when the smallest `x` is 0.
#[inline(always)]
fn negative_zero_body(data: &[f32]) -> bool {
    data.iter()
        .fold(u32::MAX, |m, v| m.min(v.to_bits() ^ NEG_ZERO))
        == 0
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn sum_squares_avx512(data: &[f32]) -> [f32; LANES] {
    sum_squares_body(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn sum_squares_avx2(data: &[f32]) -> [f32; LANES] {
    sum_squares_body(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn negative_zero_avx512(data: &[f32]) -> bool {
    negative_zero_body(data)
}

#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn negative_zero_avx2(data: &[f32]) -> bool {
    negative_zero_body(data)
}
