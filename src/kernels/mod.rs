//! Raw-slice numeric kernels: the lowest layer.
//!
//! Every family lives in its own file with a plain, obviously-correct `*_reference`
//! implementation beside the fast one. The reference is kept forever: it is the test oracle,
//! the documentation of the semantics, and the fallback.
//!
//! * [`isa`]: which SIMD instruction set to use (detected once at run time, `GI_ISA` override)
//!   and how many threads (`GI_NUM_THREADS`).
//! * [`cache`]: this CPU's cache sizes (read once) and the GEMM block sizes they imply.
//! * [`matmul`]: `C = alpha * op(A) * op(B) + beta * C`, packed and register-tiled.
//! * [`conv`]: 2-D convolution (NCHW) forward and its two backward products.
//! * [`conv_direct`]: direct stride-1 forward, input- and weight-gradient kernels,
//!   bit-identical to [`conv`]'s im2col products where [`conv`] routes to them.
//! * [`pool`]: max / average / global-average pooling and their adjoints.
//! * [`resize`]: bilinear / nearest / area resize with PyTorch semantics, and adjoints.
//! * [`scan`]: one-pass checks of a slice (sum of squares in fixed lanes, any −0).
//!
//! Kernels take slices and dimensions and never allocate tensors; shape validation happens
//! one layer up, in [`crate::tensor`], so here mismatches are `debug_assert!`s.
//! This is the only module allowed to contain `unsafe`.

pub mod cache;
pub mod conv;
pub mod conv_direct;
pub mod isa;
pub mod matmul;
pub mod pool;
pub mod resize;
pub mod scan;
