//! The shared test helpers (tests/common/) can fail: `assert_close` rejects what it must.

mod common;

use common::{assert_close, assert_rel, synthetic, temp_dir, uniform};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::panic::catch_unwind;

#[test]
fn assert_close_accepts_within_and_rejects_beyond_the_tolerance() {
    assert_close(&[1.0f32, 2.0], &[1.0, 2.0], 0.0, 0.0, "equal");
    assert_close(&[1.0f64 + 1e-9], &[1.0], 0.0, 1e-8, "atol");
    assert_close(&[100.1f64], &[100.0], 1e-3, 0.0, "rtol");
    assert_close(
        &[f32::INFINITY],
        &[f32::INFINITY],
        0.0,
        0.0,
        "equal infinities",
    );
    for (actual, expected, rtol, atol) in [
        (1.1f64, 1.0, 0.05, 0.05), // 0.1 > 0.05 + 0.05
        (f64::NAN, 1.0, 1.0, 1.0),
        (1.0, f64::NAN, 1.0, 1.0),
        (f64::NAN, f64::NAN, 1.0, 1.0),
        (f64::INFINITY, 1e300, 1.0, 1.0),
        (1.0 + 1e-15, 1.0, 0.0, 0.0),
    ] {
        let r = catch_unwind(|| assert_close(&[0.0, actual], &[0.0, expected], rtol, atol, "x"));
        assert!(r.is_err(), "{actual} vs {expected} passed");
    }
    assert!(catch_unwind(|| assert_close(&[1.0f32], &[1.0, 2.0], 0.0, 0.0, "len")).is_err());
    assert!(catch_unwind(|| assert_rel(2.0, 1.0, 0.5, "rel")).is_err());
}

#[test]
fn assert_close_names_the_worst_element() {
    let err = catch_unwind(|| assert_close(&[1.0f32, 5.0, 2.5], &[1.0, 2.0, 2.0], 0.0, 0.1, "v"))
        .unwrap_err();
    let msg = err.downcast_ref::<String>().unwrap();
    assert!(
        msg.contains("worst at [1] of 3: got 5, expected 2"),
        "{msg}"
    );
}

#[test]
fn random_data_is_seeded_and_in_range() {
    let a = uniform(&mut StdRng::seed_from_u64(1), 100);
    assert_eq!(a, uniform(&mut StdRng::seed_from_u64(1), 100));
    assert!(a.iter().all(|x| (-1.0..1.0).contains(x)));
    let d = synthetic(30, 7, 3, &mut StdRng::seed_from_u64(2));
    assert_eq!((d.images.len(), d.labels.len(), d.dim), (210, 30, 7));
    assert!(d.images.iter().all(|x| (0.0..=1.0).contains(x)));
    assert!(d.labels.iter().all(|&c| c < 3));
    let e = synthetic(30, 7, 3, &mut StdRng::seed_from_u64(2));
    assert_eq!((d.images, d.labels), (e.images, e.labels));
}

#[test]
fn temp_dirs_are_fresh_and_distinct() {
    let a = temp_dir("a");
    std::fs::write(a.join("f"), b"x").unwrap();
    let again = temp_dir("a");
    assert_eq!(a, again);
    assert!(
        std::fs::read_dir(&again).unwrap().next().is_none(),
        "not emptied"
    );
    assert_ne!(temp_dir("b"), again);
    std::fs::remove_dir_all(&again).unwrap();
    std::fs::remove_dir_all(temp_dir("b")).unwrap();
}
