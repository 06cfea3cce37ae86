//! Fully connected layer `y = x Wᵀ + b`, with W stored (out × in) like PyTorch's `nn.Linear`.
//! The transpose is a flag on the matmul, never a copy.
//!
//! For a batch x (B × in) and output adjoint Ȳ (B × out), the tape's matmul and broadcast-add
//! rules give `W̄ = Ȳᵀ x` (out × in), `x̄ = Ȳ W` (B × in) and `b̄ = Σ_rows Ȳ`: the bias gradient
//! is summed over the batch, the weight gradient is a sum of per-example outer products.

use super::init::Init;
use crate::autodiff::{Tape, Var};
use crate::error::Result;
use crate::tensor::Tensor;
use rand::Rng;

/// A fully connected layer.
#[derive(Clone, Debug, PartialEq)]
pub struct Linear {
    /// Weight, (out × in).
    pub weight: Tensor,
    /// Bias, (out).
    pub bias: Tensor,
}

crate::impl_module!(Linear { weight, bias });

/// The tape variables of a bound [`Linear`] (and of a [`Conv2d`](super::Conv2d)).
#[derive(Clone, Copy, Debug)]
pub struct LinearVars {
    /// The weight leaf.
    pub weight: Var,
    /// The bias leaf.
    pub bias: Var,
}

impl Linear {
    /// A layer `in → out` initialized by `init`.
    pub fn new(inputs: usize, outputs: usize, init: Init, rng: &mut impl Rng) -> Result<Linear> {
        let (weight, bias) = init.draw(&[outputs, inputs], outputs, inputs, outputs, rng)?;
        Ok(Linear { weight, bias })
    }

    /// Input width.
    pub fn inputs(&self) -> usize {
        self.weight.dims()[1]
    }

    /// Output width.
    pub fn outputs(&self) -> usize {
        self.weight.dims()[0]
    }

    /// Binds the parameters as leaves (borrowed, no copy). `trainable = false` binds them as
    /// constants: no gradient is computed for them (frozen layers).
    pub fn bind<'a>(&'a self, tape: &mut Tape<'a>, trainable: bool) -> LinearVars {
        bind_weight_bias(tape, &self.weight, &self.bias, trainable)
    }

    /// Records `x Wᵀ + b` for x (batch × in).
    ///
    /// ```
    /// use grad_instructor::nn::Linear;
    /// use grad_instructor::{Tape, Tensor};
    /// # fn main() -> grad_instructor::Result<()> {
    /// let layer = Linear {
    ///     weight: Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[3, 2])?, // 2 in, 3 out
    ///     bias: Tensor::from_vec(vec![0.5, 0., -0.5], &[3])?,
    /// };
    /// let x = Tensor::from_vec(vec![1., 1.], &[1, 2])?;
    /// let mut tape = Tape::new();
    /// let vars = layer.bind(&mut tape, true);
    /// let xv = tape.constant_ref(&x);
    /// let y = Linear::forward(&mut tape, vars, xv)?;
    /// assert_eq!(tape.value(y).data(), &[3.5, 7.0, 10.5]);
    /// let root = tape.sum(y);
    /// let g = tape.backward(root)?;
    /// assert_eq!(g.get(vars.weight).unwrap().data(), &[1.; 6]); // W̄ = Ȳᵀ x with Ȳ = 1
    /// assert_eq!(g.get(vars.bias).unwrap().data(), &[1.; 3]);
    /// # Ok(()) }
    /// ```
    pub fn forward(tape: &mut Tape<'_>, vars: LinearVars, x: Var) -> Result<Var> {
        let xw = tape.matmul_t(x, false, vars.weight, true)?;
        tape.add(xw, vars.bias)
    }
}

/// Binds a (weight, bias) pair as leaves, borrowed: trainable params, or constants.
pub(crate) fn bind_weight_bias<'a>(
    tape: &mut Tape<'a>,
    weight: &'a Tensor,
    bias: &'a Tensor,
    trainable: bool,
) -> LinearVars {
    let mut bind = |t| {
        if trainable {
            tape.param(t)
        } else {
            tape.constant_ref(t)
        }
    };
    LinearVars {
        weight: bind(weight),
        bias: bind(bias),
    }
}
