//! Seeded random numbers. `rand` supplies uniform bits; the normal distribution is drawn here
//! with the Box–Muller transform, so the crate needs no other random-number crate.
//!
//! Box–Muller (1958): for independent u1, u2 uniform on (0, 1], the polar pair
//! `R = √(−2 ln u1)`, `Θ = 2π u2` has the density of a standard 2-D Gaussian written in polar
//! coordinates (R² is exponential with mean 2, Θ uniform), so `R cos Θ` and `R sin Θ` are two
//! independent N(0, 1) samples.

use rand::Rng;

/// One sample of U(low, high).
pub fn uniform_f32(rng: &mut impl Rng, low: f32, high: f32) -> f32 {
    low + (high - low) * rng.gen::<f32>()
}

/// One sample of N(0, 1) by Box–Muller: `sqrt(-2 ln u1) * cos(2π u2)` with u1 in (0, 1].
/// (The sine half is discarded so that each call consumes a fixed two draws: simpler
/// reproducibility at the cost of one transcendental.)
pub fn normal_f32(rng: &mut impl Rng) -> f32 {
    let u1 = 1.0 - rng.gen::<f64>(); // (0, 1]: ln(u1) is finite
    let u2 = rng.gen::<f64>();
    ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
}
