#![no_main]
//! Fuzz target `tensor`: tensor constructors and shape-checked ops with arbitrary dimensions.
//!
//! The check itself is in `fuzz/checks/tensor.rs` (its docs give the input format and the
//! invariants), shared with `tests/fuzz_replay.rs`, which replays the committed corpus and
//! the saved findings as ordinary tests.

#[path = "../checks/tensor.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
