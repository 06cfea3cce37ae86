#![no_main]
// Fuzz target `kernels`: to be written.
use libfuzzer_sys::fuzz_target;

fuzz_target!(|_data: &[u8]| {});
