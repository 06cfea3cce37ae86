#![no_main]
//! Fuzz target `kernels`: sgemm and the fast conv2d kernels, every ISA, against their references.
//!
//! The check itself is in `fuzz/checks/kernels.rs` (its docs give the input format and the
//! invariants), shared with `tests/fuzz_replay.rs`, which replays the committed corpus and
//! the saved findings as ordinary tests.

#[path = "../checks/kernels.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
