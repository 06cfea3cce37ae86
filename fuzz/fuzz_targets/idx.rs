#![no_main]
// Fuzz target `idx`: to be written.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|_data: &[u8]| {});
