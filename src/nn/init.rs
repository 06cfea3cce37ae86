//! Weight initializers, all drawn from an explicit seeded RNG.
//!
//! The common idea: a unit `y = Σ_{i<n} w_i x_i` with independent zero-mean weights has
//! `Var(y) = n · Var(w) · E[x²]`, so the weight variance must shrink like 1/n for signals to
//! keep their scale through many layers. The schemes differ in which n and which gain.
//! (`U(−b, b)` has variance `b²/3`.)
//!
//! * PyTorch's default for `nn.Linear`/`nn.Conv2d`: `kaiming_uniform_(a = √5)`. Its gain is
//!   `√(2/(1+a²)) = √(1/3)`, its std `gain/√fan_in`, and the uniform bound with that std is
//!   `√3 · std = 1/√fan_in`. So weights are `U(±1/√fan_in)` (variance `1/(3·fan_in)`); the
//!   bias uses the same bound `1/√fan_in`.
//! * He (Kaiming normal, fan_in, ReLU gain √2): `N(0, 2/fan_in)`; bias zero (as
//!   `torch.nn.init.kaiming_normal_` with `zeros_` on the bias). ReLU zeroes half of a
//!   symmetric input, so `E[x²] = Var(y_prev)/2`; keeping `Var(y)` constant needs
//!   `fan_in · Var(w) / 2 = 1` (He et al., "Delving Deep into Rectifiers", ICCV 2015).
//! * Xavier/Glorot uniform: `U(±√(6/(fan_in + fan_out)))`; bias zero. The forward pass wants
//!   `fan_in · Var(w) = 1`, the backward pass `fan_out · Var(w) = 1`; the compromise
//!   `Var(w) = 2/(fan_in + fan_out)` with a uniform law gives that bound (Glorot & Bengio,
//!   "Understanding the difficulty of training deep feedforward neural networks", AISTATS 2010).

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
    ///
    /// ```
    /// use grad_instructor::nn::Init;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// # fn main() -> grad_instructor::Result<()> {
    /// let mut rng = StdRng::seed_from_u64(0);
    /// // A 100×784 layer: PyTorch's default bound is 1/√784 = 1/28.
    /// let (w, b) = Init::PytorchDefault.draw(&[100, 784], 100, 784, 100, &mut rng)?;
    /// assert!(w.data().iter().chain(b.data()).all(|v| v.abs() <= 1.0 / 28.0));
    /// let (w, b) = Init::He.draw(&[100, 784], 100, 784, 100, &mut rng)?;
    /// let var = w.data().iter().map(|v| v * v).sum::<f32>() / w.numel() as f32;
    /// // Var(w) ≈ 2/fan_in; over n = 78 400 draws the relative error is about √(2/n) ≈ 0.5%.
    /// assert!((var * 784.0 / 2.0 - 1.0).abs() < 0.05);
    /// assert!(b.data().iter().all(|&v| v == 0.0));
    /// # Ok(()) }
    /// ```
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
