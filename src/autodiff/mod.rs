//! Reverse-mode automatic differentiation on a tape (a Wengert list).
//!
//! Reverse mode computes the gradient of one scalar (a loss, a score) with respect to every
//! value it depends on, in one backward sweep over the operations recorded during the forward
//! pass (Wengert 1964; Griewank & Walther, *Evaluating Derivatives*, 2008).
//!
//! Read [`tape`] first (the list and who owns what), then `backward.rs` (the reverse sweep and
//! the chain rule it applies), then [`ops`]: every operation's forward pass and backward rule
//! side by side, one file per family. [`gradcheck`] compares the tape's gradients with central
//! finite differences.
//!
//! ## Files, and why the imports go one way
//!
//! ```text
//! op.rs        Var, and Op: what each node recorded (inputs + saved data). Data only.
//!   ↑
//! tape.rs      Tape: the list, leaves, values; Adjoints: the store a rule adds into; Gradients
//!   ↑
//! ops/*.rs     per family: forward passes (Tape methods that record an Op) + backward rules
//!   ↑             (functions of Adjoints)
//! backward.rs  Tape::backward (the reverse sweep) and Op::backward, a one-line-per-op table
//!                 routing a node to its family's rule
//! ```
//!
//! Each file imports only the ones below it. The tape stores `Op`s but never calls a rule: the
//! sweep that does lives above the rules, so no two files import each other.
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

pub mod backward;
pub mod gradcheck;
pub mod op;
pub mod ops;
pub mod tape;

pub use op::{BinaryKind, UnaryKind, Var};
pub use ops::spatial::ResizeTo;
pub use tape::{Gradients, Tape};
