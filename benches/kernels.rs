//! Kernel benchmarks (criterion). Filled in by the kernels work.
fn main() {}
