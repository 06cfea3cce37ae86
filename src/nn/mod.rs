//! Neural-network building blocks on the tape: layers, activations, losses, initializers and
//! optimizers.
//!
//! Layers own their parameters as plain [`Tensor`](crate::Tensor)s. Each step a layer is
//! *bound* to a fresh tape (`bind` returns the leaf [`Var`](crate::Var)s, borrowing the
//! parameters without copying), the forward pass records ops, `Tape::backward` returns the
//! gradients, the tape is dropped, and an optimizer updates the parameters in place.

pub mod activation;
pub mod conv;
pub mod init;
pub mod linear;
pub mod loss;
pub mod mlp;
pub mod optim;

pub use activation::Activation;
pub use conv::Conv2d;
pub use init::Init;
pub use linear::{Linear, LinearVars};
pub use mlp::Mlp;
pub use optim::{Adam, Sgd};
