#![no_main]
//! Fuzz target `safetensors`: the safetensors reader and its write/read round trip.
//!
//! The check itself is in `fuzz/checks/safetensors.rs` (its docs give the input format and the
//! invariants), shared with `tests/fuzz_replay.rs`, which replays the committed corpus and
//! the saved findings as ordinary tests.

#[path = "../checks/safetensors.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::run(data));
