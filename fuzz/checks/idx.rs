//! Fuzz target `idx`: the IDX reader must return `Ok` or a typed error for any bytes, never
//! panic, never allocate beyond what the input holds.
//!
//! Run (stable toolchain; cargo-fuzz needs nightly flags, RUSTC_BOOTSTRAP unlocks them):
//!   cargo install cargo-fuzz
//!   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run idx corpus/idx -- -max_total_time=300
//!
//! Input: the first byte picks the path. Odd: the rest is gzip-compressed first, so the
//! fuzzer explores the IDX parser behind the decompressor. Even: the rest is parsed as is
//! (raw IDX, or, when it starts with 1f 8b, a possibly corrupt gzip stream).
use flate2::write::GzEncoder;
use flate2::Compression;
use grad_instructor::data::parse_idx;
use std::io::Write;
use std::path::Path;

/// The target's check of one input: panics when an invariant fails.
pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let input = if mode & 1 == 1 {
        let mut enc = GzEncoder::new(Vec::new(), Compression::fast());
        enc.write_all(rest).unwrap();
        enc.finish().unwrap()
    } else {
        rest.to_vec()
    };
    if let Ok(a) = parse_idx(&input, Path::new("fuzz")) {
        // A successful read is self-consistent.
        assert!((1..=4).contains(&a.dims.len()));
        assert_eq!(a.data.len(), a.dims.iter().product::<usize>());
    }
}
