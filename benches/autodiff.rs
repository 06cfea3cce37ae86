//! Autodiff benchmarks (criterion). Filled in by the autodiff work.
fn main() {}
