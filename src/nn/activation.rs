//! Pointwise activations as a value, so that model sizes and nonlinearity are configurable.
//!
//! Derivatives (applied by the tape's backward rules, written in terms of the output y where
//! that is cheaper): `relu' = [x > 0]`, `σ' = σ(1 − σ)`, `tanh' = 1 − tanh²`, `identity' = 1`.

use crate::autodiff::{Tape, Var};
use crate::error::{Error, Result};

/// A pointwise nonlinearity.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// `max(x, 0)`
    Relu,
    /// Logistic sigmoid.
    Sigmoid,
    /// Hyperbolic tangent.
    Tanh,
    /// No nonlinearity.
    Identity,
}

impl Activation {
    /// Records the activation on the tape.
    pub fn apply(self, tape: &mut Tape<'_>, x: Var) -> Var {
        match self {
            Activation::Relu => tape.relu(x),
            Activation::Sigmoid => tape.sigmoid(x),
            Activation::Tanh => tape.tanh(x),
            Activation::Identity => x,
        }
    }

    /// The activation applied to one value (inference without a tape).
    ///
    /// ```
    /// use grad_instructor::nn::Activation;
    /// assert_eq!(Activation::Relu.eval(-2.0), 0.0);
    /// assert_eq!(Activation::Sigmoid.eval(0.0), 0.5);
    /// ```
    pub fn eval(self, x: f32) -> f32 {
        match self {
            Activation::Relu => x.max(0.0),
            Activation::Sigmoid => 1.0 / (1.0 + (-x).exp()),
            Activation::Tanh => x.tanh(),
            Activation::Identity => x,
        }
    }

    /// Parses `relu|sigmoid|tanh|identity` (also `none` for identity), as on the command line.
    ///
    /// ```
    /// use grad_instructor::nn::Activation;
    /// assert_eq!(Activation::parse("tanh").unwrap(), Activation::Tanh);
    /// assert_eq!(Activation::parse("none").unwrap(), Activation::Identity);
    /// assert!(Activation::parse("gelu").is_err()); // an Error::InvalidArgument naming the choices
    /// ```
    pub fn parse(s: &str) -> Result<Activation> {
        match s {
            "relu" => Ok(Activation::Relu),
            "sigmoid" => Ok(Activation::Sigmoid),
            "tanh" => Ok(Activation::Tanh),
            "identity" | "none" => Ok(Activation::Identity),
            _ => Err(Error::invalid(
                "activation",
                format!("unknown activation {s:?} (relu, sigmoid, tanh, identity)"),
            )),
        }
    }
}
