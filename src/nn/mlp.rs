//! A multilayer perceptron: `Linear → act → … → Linear` (no activation after the last layer;
//! its outputs are logits). The paper's target network is 784-100-10 with ReLU.
//!
//! Two forward paths: [`Mlp::forward`] records on a tape (training; gradients follow), and
//! [`Mlp::logits`] runs on plain tensors (evaluation; no tape, no saved values).

use super::activation::Activation;
use super::init::Init;
use super::linear::{Linear, LinearVars};
use super::optim::Optimizer;
use crate::autodiff::{Tape, Var};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rand::Rng;

/// A multilayer perceptron.
#[derive(Clone, Debug, PartialEq)]
pub struct Mlp {
    /// Layers, input first.
    pub layers: Vec<Linear>,
    /// Nonlinearity between layers.
    pub activation: Activation,
}

// Parameters `layers.0.weight`, `layers.0.bias`, `layers.1.weight`, …
crate::impl_module!(Mlp { layers });

impl Mlp {
    /// An MLP with the given layer widths (`[784, 100, 10]`: one hidden layer of 100).
    pub fn new(
        sizes: &[usize],
        activation: Activation,
        init: Init,
        rng: &mut impl Rng,
    ) -> Result<Mlp> {
        if sizes.len() < 2 || sizes.contains(&0) {
            return Err(Error::invalid(
                "Mlp::new",
                format!("need at least two positive layer sizes, got {sizes:?}"),
            ));
        }
        let layers = sizes
            .windows(2)
            .map(|w| Linear::new(w[0], w[1], init, rng))
            .collect::<Result<_>>()?;
        Ok(Mlp { layers, activation })
    }

    /// Layer widths, input first.
    pub fn sizes(&self) -> Vec<usize> {
        let mut s = vec![self.layers[0].inputs()];
        s.extend(self.layers.iter().map(Linear::outputs));
        s
    }

    /// Binds every parameter as a trainable leaf.
    pub fn bind<'a>(&'a self, tape: &mut Tape<'a>) -> Vec<LinearVars> {
        self.layers.iter().map(|l| l.bind(tape, true)).collect()
    }

    /// Records the forward pass of x (batch × inputs); returns the logits.
    pub fn forward(&self, tape: &mut Tape<'_>, vars: &[LinearVars], x: Var) -> Result<Var> {
        let mut h = x;
        for (i, &v) in vars.iter().enumerate() {
            h = Linear::forward(tape, v, h)?;
            if i + 1 < vars.len() {
                h = self.activation.apply(tape, h);
            }
        }
        Ok(h)
    }

    /// One forward + backward of mean softmax cross-entropy on a batch, plus an optional L1
    /// penalty `λ Σ |W|` on the weight matrices (not the biases). Returns the loss (including
    /// the penalty) and the gradients in the order of [`Module::params`](crate::nn::Module::params). `x` is (batch × inputs).
    ///
    /// The tape lives only inside this call; the returned gradients are owned by the caller.
    ///
    /// ```
    /// use grad_instructor::nn::{Activation, Init, Mlp};
    /// use grad_instructor::Tensor;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// # fn main() -> grad_instructor::Result<()> {
    /// let mut rng = StdRng::seed_from_u64(7);
    /// let mlp = Mlp::new(&[4, 3, 2], Activation::Relu, Init::PytorchDefault, &mut rng)?;
    /// let x = Tensor::ones(&[5, 4])?; // a batch of 5
    /// let (loss, grads) = mlp.loss_and_grads(&x, &[0, 1, 0, 1, 1], 0.0)?;
    /// assert!(loss > 0.0);
    /// let shapes: Vec<&[usize]> = grads.iter().map(|g| g.dims()).collect();
    /// assert_eq!(shapes, [&[3, 4][..], &[3], &[2, 3], &[2]]); // w0, b0, w1, b1
    /// # Ok(()) }
    /// ```
    pub fn loss_and_grads(
        &self,
        x: &Tensor,
        labels: &[u32],
        l1_lambda: f32,
    ) -> Result<(f32, Vec<Tensor>)> {
        let mut tape = Tape::with_capacity(4 * self.layers.len() + 4);
        let vars = self.bind(&mut tape);
        let xv = tape.constant_ref(x);
        let logits = self.forward(&mut tape, &vars, xv)?;
        let mut loss = tape.softmax_cross_entropy(logits, labels)?;
        if l1_lambda != 0.0 {
            let weights: Vec<Var> = vars.iter().map(|v| v.weight).collect();
            let penalty = super::loss::l1_penalty(&mut tape, &weights, l1_lambda)?;
            loss = tape.add(loss, penalty)?;
        }
        let value = tape.item(loss)?;
        let mut g = tape.backward(loss)?;
        let grads = vars
            .iter()
            .flat_map(|v| [v.weight, v.bias])
            .map(|v| {
                g.take(v).ok_or_else(|| {
                    Error::invalid("Mlp::loss_and_grads", "parameter without gradient")
                })
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((value, grads))
    }

    /// One training step on a batch: [`Mlp::loss_and_grads`], then `opt`'s update. A NaN or
    /// infinite loss or gradient stops before the update with [`Error::NonFinite`] (`what` is
    /// `"loss"` or `"gradient"`; `run` is `"mlp"` and `step` 0, for the caller to relabel).
    /// Returns the loss. Every loop that trains an MLP by plain backprop goes through here.
    ///
    /// ```
    /// use grad_instructor::nn::{Activation, Init, Mlp, Sgd};
    /// use grad_instructor::Tensor;
    /// use rand::{rngs::StdRng, SeedableRng};
    /// # fn main() -> grad_instructor::Result<()> {
    /// let mut mlp = Mlp::new(&[2, 2], Activation::Relu, Init::He, &mut StdRng::seed_from_u64(3))?;
    /// let x = Tensor::from_vec(vec![1.0, f32::NAN], &[1, 2])?;
    /// let before = mlp.clone();
    /// assert!(mlp.train_step(&mut Sgd::new(0.1), &x, &[0], 0.0).is_err()); // NaN input
    /// assert_eq!(mlp.layers[0].bias, before.layers[0].bias); // nothing was updated
    /// # Ok(()) }
    /// ```
    pub fn train_step(
        &mut self,
        opt: &mut impl Optimizer,
        x: &Tensor,
        labels: &[u32],
        l1_lambda: f32,
    ) -> Result<f32> {
        let (loss, grads) = self.loss_and_grads(x, labels, l1_lambda)?;
        if !loss.is_finite() || grads.iter().any(|g| !g.all_finite()) {
            let what = if loss.is_finite() { "gradient" } else { "loss" };
            return Err(Error::NonFinite {
                run: "mlp".into(),
                step: 0,
                what: what.into(),
            });
        }
        opt.step_module(self, &grads)?;
        Ok(loss)
    }

    /// Logits without a tape (inference): x (batch × inputs) → (batch × outputs).
    pub fn logits(&self, x: &Tensor) -> Result<Tensor> {
        let mut h = x
            .matmul_t(false, &self.layers[0].weight, true)?
            .add_row(&self.layers[0].bias)?;
        for layer in &self.layers[1..] {
            let act = self.activation;
            h.data_mut().iter_mut().for_each(|v| *v = act.eval(*v));
            h = h
                .matmul_t(false, &layer.weight, true)?
                .add_row(&layer.bias)?;
        }
        Ok(h)
    }

    /// Fraction of `images` (n × inputs, row-major) whose argmax logit equals the label,
    /// evaluated in chunks of 1000 rows.
    pub fn accuracy(&self, images: &[f32], labels: &[u32]) -> Result<f64> {
        let dim = self.layers[0].inputs();
        if images.len() != labels.len() * dim || labels.is_empty() {
            return Err(Error::shape(
                "Mlp::accuracy",
                format!("{} labels x {dim} inputs", labels.len()),
                format!("{} values", images.len()),
            ));
        }
        const CHUNK: usize = 1000;
        let mut correct = 0usize;
        for (xs, ys) in images.chunks(CHUNK * dim).zip(labels.chunks(CHUNK)) {
            let x = Tensor::from_vec(xs.to_vec(), &[ys.len(), dim])?;
            let pred = self.logits(&x)?.argmax_axis(1)?;
            correct += pred
                .iter()
                .zip(ys)
                .filter(|(&p, &y)| p == y as usize)
                .count();
        }
        Ok(correct as f64 / labels.len() as f64)
    }
}
