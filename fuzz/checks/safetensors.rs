//! Fuzz target `safetensors`: `from_bytes` must return `Ok` or a typed error for any bytes,
//! never panic; whatever it accepts must survive a write/read round trip bit for bit.
//!
//! Run (stable toolchain; cargo-fuzz needs nightly flags, RUSTC_BOOTSTRAP unlocks them):
//!   cargo install cargo-fuzz
//!   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run safetensors corpus/safetensors -- -max_total_time=300
use grad_instructor::io::safetensors::{from_bytes, to_bytes};
use std::path::Path;

/// The target's check of one input: panics when an invariant fails.
pub fn run(data: &[u8]) {
    let Ok(w) = from_bytes(data, Path::new("fuzz")) else {
        return;
    };
    let tensors: Vec<_> = w.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let meta: Vec<_> = w
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let bytes = to_bytes(&tensors, &meta).expect("a file that was read can be written");
    let back = from_bytes(&bytes, Path::new("fuzz-rewritten")).expect("rewritten file reads");
    assert_eq!(back.metadata, w.metadata);
    assert_eq!(back.tensors.len(), w.tensors.len());
    for ((n1, t1), (n2, t2)) in back.tensors.iter().zip(&w.tensors) {
        assert_eq!(n1, n2);
        assert_eq!(t1.dims(), t2.dims());
        let bits =
            |t: &grad_instructor::Tensor| t.data().iter().map(|x| x.to_bits()).collect::<Vec<_>>();
        assert_eq!(bits(t1), bits(t2));
    }
}
