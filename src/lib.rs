//! # grad-instructor
//!
//! A from-scratch numeric engine (f32 tensor, SIMD kernels with run-time CPU dispatch, a
//! reverse-mode autodiff tape) and, on top of it, a measured reproduction of
//! *Grad-Instructor* (arXiv 2406.10559): an Evaluation Neural Network (ENN) that scores an
//! MLP's first weight matrix, trained by reinforcement learning and used as an extra
//! evaluation term during backpropagation.
//!
//! ## Layers, lowest first (a lower layer never imports a higher one)
//!
//! | module | what it owns |
//! |---|---|
//! | [`kernels`] | matmul, conv, pool, resize over raw slices; SIMD variants beside a plain reference |
//! | [`tensor`] | `Shape`, `Tensor`, elementwise ops and reductions, typed shape errors |
//! | [`autodiff`] | the tape (Wengert list) and every op's backward rule |
//! | [`nn`] | layers, losses, initializers, optimizers |
//! | [`data`], [`io`] | IDX/MNIST loading; safetensors weights files |
//! | [`instructor`] | the ENN, universal backpropagation, REINFORCE |
//! | [`explain`] | Grad-CAM, lottery masks |
//! | [`report`] | tables, CSV/JSON, PNG, SVG, HTML — formats numbers it is handed |
//!
//! [`error`] holds the one error type every layer returns.
//!
//! Start reading at `src/autodiff/tape.rs` for autodiff and `src/kernels/matmul.rs` for the
//! kernels.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// Index loops mirror the math (`y[i] = sum_k a[i][k] * x[k]`); iterator chains hide it.
#![allow(clippy::needless_range_loop)]

pub mod autodiff;
pub mod data;
pub mod error;
pub mod explain;
pub mod instructor;
pub mod io;
pub mod kernels;
pub mod nn;
pub mod report;
pub mod stats;
pub mod tensor;

pub use autodiff::{Gradients, Tape, Var};
pub use error::{Error, Result};
pub use tensor::{Shape, Tensor};
