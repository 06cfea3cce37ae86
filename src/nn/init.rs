//! Weight initializers, all drawn from an explicit seeded RNG.
//!
//! * PyTorch's default for `nn.Linear`/`nn.Conv2d`: `kaiming_uniform_(a = √5)`, which works out
//!   to `U(−1/√fan_in, 1/√fan_in)` (gain √(2/(1+a²)) = √(1/3), bound gain·√(3/fan_in)); the
//!   bias uses the same bound.
//! * He (Kaiming normal, fan_in, ReLU gain √2): `N(0, 2/fan_in)`; bias zero (as
//!   `torch.nn.init.kaiming_normal_` with `zeros_` on the bias).
//! * Xavier/Glorot uniform: `U(±√(6/(fan_in + fan_out)))`; bias zero.

use crate::error::Result;
use crate::tensor::Tensor;
use rand::Rng;

/// Which initializer a layer uses.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Init {
    /// PyTorch's default `U(±1/√fan_in)` for weights and bias.
    PytorchDefault,
    /// PyTorch's default bound multiplied by a factor (the REINFORCE episodes vary init quality).
    PytorchDefaultScaled(f32),
    /// Kaiming normal `N(0, 2/fan_in)`, zero bias.
    He,
    /// Glorot uniform, zero bias.
    Xavier,
}

impl Init {
    /// Draws `(weight, bias)` with the given dimensions; `fan_in`/`fan_out` as PyTorch computes
    /// them (for a conv, `c_in·kh·kw` and `c_out·kh·kw`).
    pub fn draw(
        self,
        weight_dims: &[usize],
        bias_len: usize,
        fan_in: usize,
        fan_out: usize,
        rng: &mut impl Rng,
    ) -> Result<(Tensor, Tensor)> {
        let default_bound = 1.0 / (fan_in as f32).sqrt();
        match self {
            Init::PytorchDefault | Init::PytorchDefaultScaled(_) => {
                let s = if let Init::PytorchDefaultScaled(s) = self {
                    s
                } else {
                    1.0
                };
                let w = Tensor::uniform(weight_dims, -s * default_bound, s * default_bound, rng)?;
                let b = Tensor::uniform(&[bias_len], -s * default_bound, s * default_bound, rng)?;
                Ok((w, b))
            }
            Init::He => Ok((
                Tensor::normal(weight_dims, 0.0, (2.0 / fan_in as f32).sqrt(), rng)?,
                Tensor::zeros(&[bias_len])?,
            )),
            Init::Xavier => {
                let bound = (6.0 / (fan_in + fan_out) as f32).sqrt();
                Ok((
                    Tensor::uniform(weight_dims, -bound, bound, rng)?,
                    Tensor::zeros(&[bias_len])?,
                ))
            }
        }
    }
}
