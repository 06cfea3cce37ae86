//! Neural-network building blocks on the tape: layers, activations, losses, initializers and
//! optimizers.
//!
//! Layers own their parameters as plain [`Tensor`](crate::Tensor)s. Each step a layer is
//! *bound* to a fresh tape (`bind` returns the leaf [`Var`](crate::Var)s, borrowing the
//! parameters without copying), the forward pass records ops, `Tape::backward` returns the
//! gradients, the tape is dropped, and an optimizer updates the parameters in place.
//!
//! * [`linear`], [`conv`]: `y = x Wᵀ + b` and the 2-D convolution, PyTorch's layouts.
//! * [`activation`]: ReLU, sigmoid, tanh as a configurable value.
//! * [`loss`]: softmax cross-entropy (fused, log-sum-exp), MSE, the L1 penalty.
//! * [`init`]: PyTorch's default, He and Xavier initializers, with their derivations.
//! * [`optim`]: SGD (momentum, weight decay) and Adam, as `torch.optim` defines them.
//! * [`mlp`]: the multilayer perceptron the paper trains (784-100-10, ReLU).
//! * [`module`]: the [`Module`] trait: named parameters in a fixed order, which optimizers
//!   step and weights files store; [`impl_module!`](crate::impl_module) implements it from a
//!   list of fields.
//!
//! The step written out (what [`Mlp::loss_and_grads`] does, plus the update):
//!
//! ```
//! use grad_instructor::nn::{loss, Activation, Init, Mlp, Module, Sgd};
//! use grad_instructor::{Tape, Tensor};
//! use rand::{rngs::StdRng, SeedableRng};
//! # fn main() -> grad_instructor::Result<()> {
//! let mut mlp = Mlp::new(&[3, 4, 2], Activation::Relu, Init::He, &mut StdRng::seed_from_u64(1))?;
//! let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 1.0, 0.0, -0.5], &[2, 3])?; // batch of 2
//! let labels = [1, 0];
//! let grads: Vec<Tensor> = {
//!     let mut tape = Tape::new();
//!     let vars = mlp.bind(&mut tape); // leaves borrowing w0, b0, w1, b1
//!     let xv = tape.constant_ref(&x);
//!     let logits = mlp.forward(&mut tape, &vars, xv)?;
//!     let l = loss::cross_entropy(&mut tape, logits, &labels)?;
//!     let mut g = tape.backward(l)?;
//!     vars.iter().flat_map(|v| [g.take(v.weight), g.take(v.bias)]).flatten().collect()
//! }; // the tape is dropped here, releasing its borrow of `mlp`
//! Sgd::new(0.1).step(&mut mlp, &grads)?; // grads in the order of mlp.params()
//! # Ok(()) }
//! ```

pub mod activation;
pub mod conv;
pub mod init;
pub mod linear;
pub mod loss;
pub mod mlp;
pub mod module;
pub mod optim;

pub use activation::Activation;
pub use conv::Conv2d;
pub use init::Init;
pub use linear::{Linear, LinearVars};
pub use mlp::Mlp;
pub use module::Module;
pub use optim::{Adam, Optimizer, Sgd};
