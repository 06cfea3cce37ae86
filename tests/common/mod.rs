//! Helpers shared by the integration tests: one closeness assertion, seeded random data,
//! fresh temp dirs, synthetic data sets; (in `alloc`) the allocation-tracking allocator,
//! (in `bin`) running the `mnist_enn` example, (in `enn`) the ENN-training fixtures.
//!
//! Each test file that needs them says `mod common;`. Not every file uses every helper, so
//! dead-code warnings are off for this module.
#![allow(dead_code)]

pub mod alloc;
pub mod bin;
pub mod enn;

use grad_instructor::data::Dataset;
use rand::rngs::StdRng;
use rand::Rng;
use std::fmt::Display;
use std::path::PathBuf;

/// A float the assertions can compare: both widths are compared in f64 (exact for f32).
pub trait Float: Copy + Display + Into<f64> {}
impl Float for f32 {}
impl Float for f64 {}

/// Asserts `|a_i - e_i| <= atol + rtol * |e_i|` (or `a_i == e_i`, for equal infinities) for
/// every element, and equal lengths. A NaN on either side fails. On failure prints the worst
/// element: its index, both values, the error and the allowed error.
pub fn assert_close<T: Float>(actual: &[T], expected: &[T], rtol: f64, atol: f64, what: &str) {
    assert_eq!(
        actual.len(),
        expected.len(),
        "{what}: lengths {} and {}",
        actual.len(),
        expected.len()
    );
    // The worst element by excess error `|a - e| - allowed` (NaN counts as +inf).
    let mut worst = (0, f64::NEG_INFINITY);
    for (i, (&a, &e)) in actual.iter().zip(expected).enumerate() {
        let (a, e): (f64, f64) = (a.into(), e.into());
        let excess = if a == e {
            f64::NEG_INFINITY
        } else {
            let x = (a - e).abs() - (atol + rtol * e.abs());
            if x.is_nan() {
                f64::INFINITY
            } else {
                x
            }
        };
        if excess > worst.1 {
            worst = (i, excess);
        }
    }
    let (i, excess) = worst;
    if excess > 0.0 {
        let (a, e): (f64, f64) = (actual[i].into(), expected[i].into());
        panic!(
            "{what}: worst at [{i}] of {}: got {}, expected {}, error {:e} > allowed {:e} \
             (rtol {rtol:e}, atol {atol:e})",
            actual.len(),
            actual[i],
            expected[i],
            (a - e).abs(),
            atol + rtol * e.abs(),
        );
    }
}

/// [`assert_close`] of one value with a relative tolerance only.
pub fn assert_rel(actual: f64, expected: f64, rtol: f64, what: &str) {
    assert_close(&[actual], &[expected], rtol, 0.0, what);
}

/// `len` values drawn uniformly from [-1, 1).
pub fn uniform(rng: &mut StdRng, len: usize) -> Vec<f32> {
    (0..len).map(|_| rng.gen_range(-1.0f32..1.0)).collect()
}

/// A fresh, empty directory for one test, unique per test binary, name and process; removed
/// first if a previous run left it behind.
pub fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!(
        "gi-{}-{name}-{}",
        env!("CARGO_CRATE_NAME"),
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// Synthetic classification data in [0, 1]^dim: one uniform random prototype per class, each
/// sample its class's prototype plus uniform noise in ±0.3, clamped to [0, 1]. Labels are
/// uniform over `0..classes`. Learnable in a few steps, and cheap.
pub fn synthetic(n: usize, dim: usize, classes: u32, rng: &mut StdRng) -> Dataset {
    let protos: Vec<Vec<f32>> = (0..classes)
        .map(|_| (0..dim).map(|_| rng.gen_range(0.0..1.0)).collect())
        .collect();
    let mut images = Vec::with_capacity(n * dim);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let c = rng.gen_range(0..classes);
        labels.push(c);
        images.extend(
            protos[c as usize]
                .iter()
                .map(|p| (p + rng.gen_range(-0.3f32..0.3)).clamp(0.0, 1.0)),
        );
    }
    Dataset {
        images,
        labels,
        dim,
    }
}
