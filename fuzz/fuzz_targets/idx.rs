#![no_main]
//! Fuzz target `idx`: the IDX reader (raw and gzip).
//!
//! The check itself is in `fuzz/checks/idx.rs` (its docs give the input format and the
//! invariants), shared with `tests/fuzz_replay.rs`, which replays the committed corpus and
//! the saved findings as ordinary tests.

#[path = "../checks/idx.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
