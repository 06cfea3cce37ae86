//! Files the crate writes and reads: atomic writes and safetensors weights.

pub mod atomic;
pub mod safetensors;
