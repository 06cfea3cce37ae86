//! 2-D convolution layer (NCHW), weight (c_out, c_in, kh, kw) like PyTorch's `nn.Conv2d`.

use super::init::Init;
use super::linear::{bind_weight_bias, LinearVars};
use crate::autodiff::{Tape, Var};
use crate::error::Result;
use crate::tensor::Tensor;
use rand::Rng;

/// A convolution layer with bias.
#[derive(Clone, Debug, PartialEq)]
pub struct Conv2d {
    /// Filters, (c_out, c_in, kh, kw).
    pub weight: Tensor,
    /// Bias, (c_out).
    pub bias: Tensor,
    /// Stride in both directions.
    pub stride: usize,
    /// Zero padding on each side.
    pub pad: usize,
}

crate::impl_module!(Conv2d { weight, bias });

/// The tape variables of a bound [`Conv2d`]: its weight and bias leaves.
pub type Conv2dVars = LinearVars;

impl Conv2d {
    /// A `k × k` convolution `c_in → c_out` initialized by `init` (fan_in = c_in·k²).
    pub fn new(
        c_in: usize,
        c_out: usize,
        k: usize,
        stride: usize,
        pad: usize,
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<Conv2d> {
        let (weight, bias) = init.draw(
            &[c_out, c_in, k, k],
            c_out,
            c_in * k * k,
            c_out * k * k,
            rng,
        )?;
        Ok(Conv2d {
            weight,
            bias,
            stride,
            pad,
        })
    }

    /// Binds the parameters (borrowed); `trainable = false` binds them as constants.
    pub fn bind<'a>(&'a self, tape: &mut Tape<'a>, trainable: bool) -> Conv2dVars {
        bind_weight_bias(tape, &self.weight, &self.bias, trainable)
    }

    /// Records the convolution of x (n, c_in, h, w).
    pub fn forward(&self, tape: &mut Tape<'_>, vars: Conv2dVars, x: Var) -> Result<Var> {
        tape.conv2d(x, vars.weight, Some(vars.bias), self.stride, self.pad)
    }
}
