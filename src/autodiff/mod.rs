//! Reverse-mode automatic differentiation on a tape (a Wengert list).
//!
//! Reverse mode computes the gradient of one scalar (a loss, a score) with respect to every
//! value it depends on, in one backward sweep over the operations recorded during the forward
//! pass (Wengert 1964; Griewank & Walther, *Evaluating Derivatives*, 2008).
//!
//! Read [`tape`] first: it explains the list, the reverse sweep and the chain rule it applies.
//! [`ops`] holds every operation's forward pass and backward rule side by side.
//! [`gradcheck`] compares the tape's gradients with central finite differences.
//!
//! A training step:
//! ```
//! use grad_instructor::autodiff::Tape;
//! use grad_instructor::Tensor;
//! # fn main() -> grad_instructor::Result<()> {
//! let w = Tensor::from_vec(vec![0.5, -1.0], &[1, 2])?; // a parameter, owned outside the tape
//! let x = Tensor::from_vec(vec![2.0, 3.0], &[1, 2])?;
//! let mut tape = Tape::new();
//! let (wv, xv) = (tape.param(&w), tape.constant(x));
//! let prod = tape.mul(wv, xv)?;
//! let loss = tape.sum(prod);                  // loss = Σ w ⊙ x
//! let grads = tape.backward(loss)?;
//! assert_eq!(grads.get(wv).unwrap().data(), &[2.0, 3.0]); // ∂loss/∂w = x
//! # Ok(()) }
//! ```

pub mod gradcheck;
pub mod ops;
pub mod tape;

pub use ops::{BinaryKind, ResizeTo, UnaryKind};
pub use tape::{Gradients, Tape, Var};
