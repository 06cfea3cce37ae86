//! Kernel benchmarks: sgemm (benches/kernels/sgemm.rs), conv2d and resize
//! (benches/kernels/conv.rs). Run with `cargo bench --bench kernels`.

use criterion::{criterion_group, criterion_main};

#[path = "kernels/conv.rs"]
mod conv;
#[path = "kernels/sgemm.rs"]
mod sgemm;

criterion_group!(benches, sgemm::bench, conv::bench);
criterion_main!(benches);
