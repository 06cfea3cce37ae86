//! # grad-instructor
//!
//! A from-scratch numeric engine (f32 tensor, SIMD kernels with run-time CPU dispatch, a
//! reverse-mode autodiff tape) and, on top of it, a measured reproduction of
//! *Grad-Instructor* (arXiv 2406.10559): an Evaluation Neural Network (ENN) that scores an
//! MLP's first weight matrix, trained by reinforcement learning and used as an extra
//! evaluation term during backpropagation.
//!
//! The crate is meant to be read. `ARCHITECTURE.md` at the repository root describes the
//! layers, the data flow of a training step and of a REINFORCE episode, the invariants, and
//! the order in which to read the files.
//!
//! ## Layers, lowest first (a lower layer never imports a higher one)
//!
//! | module | what it owns |
//! |---|---|
//! | [`kernels`] | matmul, conv, pool, resize over raw slices; SIMD variants beside a plain reference |
//! | [`tensor`] | `Shape`, `Tensor`, elementwise ops and reductions, typed shape errors |
//! | [`autodiff`] | the tape (Wengert list) and every op's backward rule |
//! | [`nn`] | layers, losses, initializers, optimizers |
//! | [`data`], [`io`] | IDX/MNIST loading; safetensors weights files (beside `nn`, on `tensor`) |
//! | [`instructor`] | the ENN, universal backpropagation, REINFORCE |
//! | [`explain`] | Grad-CAM, lottery masks |
//! | [`experiment`] | config and presets, arms, the parallel runner, summaries, the studies |
//! | [`report`] | tables, CSV/JSON, PNG, SVG, HTML — formats numbers it is handed |
//!
//! [`error`] (the one error type every layer returns) and [`stats`] (descriptive statistics,
//! paired/Welch/TOST t-tests, bootstrap intervals, correlations with permutation p-values,
//! Holm) sit below everything; `stats` imports only `error` and `rand`.
//!
//! ## Cargo features
//!
//! The engine (`kernels`, `tensor`, `autodiff`, `nn`, `error`) depends on `rand` only and is
//! always built. Everything else, and every dependency only it uses, is behind the default-on
//! feature `full`: `cargo build --no-default-features` builds the engine alone.
//!
//! ## One training step
//!
//! Parameters live in plain [`Tensor`]s owned by the model. Each step builds a fresh [`Tape`],
//! binds the parameters by reference, records the forward pass, asks
//! [`Tape::backward`] for the [`Gradients`], drops the tape, and lets an optimizer update the
//! parameters in place. [`nn::Mlp::loss_and_grads`] does the tape part:
//!
//! ```
//! use grad_instructor::nn::{Activation, Init, Mlp, Sgd};
//! use grad_instructor::Tensor;
//! use rand::{rngs::StdRng, SeedableRng};
//! # fn main() -> grad_instructor::Result<()> {
//! let mut rng = StdRng::seed_from_u64(0); // every random choice takes a seeded RNG
//! let mut mlp = Mlp::new(&[2, 8, 2], Activation::Tanh, Init::Xavier, &mut rng)?;
//! let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2])?; // XOR inputs
//! let labels = [0, 1, 1, 0];
//! let mut sgd = Sgd::new(0.5);
//! let (first_loss, _) = mlp.loss_and_grads(&x, &labels, 0.0)?;
//! for _ in 0..50 {
//!     let (_loss, grads) = mlp.loss_and_grads(&x, &labels, 0.0)?; // tape built and dropped
//!     sgd.step(&mut mlp, &grads)?; // p ← p − η ∂L/∂p, for every parameter of the Module
//! }
//! let (last_loss, _) = mlp.loss_and_grads(&x, &labels, 0.0)?;
//! assert!(last_loss < first_loss);
//! # Ok(()) }
//! ```
//!
//! ## Run-time configuration
//!
//! * `GI_ISA=portable|avx2|avx512|neon` forces the SIMD variant of the kernels (default: the
//!   best one the CPU supports, detected once at run time; see [`kernels::isa`]).
//! * `GI_NUM_THREADS=N` sets the kernels' thread budget (default: the number of CPUs).
//!
//! Results are reproducible for a given (seed, machine, ISA, thread count): no kernel splits
//! a reduction across threads, and every random draw comes from an explicit seeded RNG.
//!
//! Start reading at `src/tensor/mod.rs`, then `src/autodiff/tape.rs` for autodiff and
//! `src/kernels/matmul/mod.rs` for the kernels.

#![deny(unsafe_op_in_unsafe_fn)]
#![warn(missing_docs)]
// Index loops mirror the math (`y[i] = sum_k a[i][k] * x[k]`); iterator chains hide it.
#![allow(clippy::needless_range_loop)]

// The engine: builds with `--no-default-features` and depends on `rand` only.
pub mod autodiff;
pub mod error;
pub mod kernels;
pub mod nn;
pub mod tensor;

// Everything above the engine, behind the default-on feature `full` (see Cargo.toml).
#[cfg(feature = "full")]
pub mod data;
#[cfg(feature = "full")]
pub mod experiment;
#[cfg(feature = "full")]
pub mod explain;
#[cfg(feature = "full")]
pub mod instructor;
#[cfg(feature = "full")]
pub mod io;
#[cfg(feature = "full")]
pub mod report;
#[cfg(feature = "full")]
pub mod stats;

pub use autodiff::{Gradients, Tape, Var};
pub use error::{Error, Result};
pub use tensor::{Shape, Tensor};
