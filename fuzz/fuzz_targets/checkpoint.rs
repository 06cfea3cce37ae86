#![no_main]
//! Fuzz target `checkpoint`: the ENN-training checkpoint parser (what `--resume` reads).
//!
//! The check itself is in `fuzz/checks/checkpoint.rs` (its docs give the input format and the
//! invariants), shared with `tests/fuzz_replay.rs`, which replays the committed corpus and
//! the saved findings as ordinary tests.

#[path = "../checks/checkpoint.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
