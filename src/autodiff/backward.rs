//! The reverse sweep, [`Tape::backward`], and the dispatch of each recorded `Op` to its
//! family's backward rule in [`super::ops`].
//!
//! ## The chain rule, as the reverse sweep applies it
//!
//! Write `v̄ = ∂root/∂v` (the *adjoint* of v, shaped like v). The root's adjoint is 1. For a
//! node `y = f(x₁, …, x_n)` the sweep, on reaching y, adds one term per input:
//!
//! ```text
//! x̄_i += J_iᵀ ȳ        J_i = ∂y/∂x_i, the Jacobian of the node with respect to input i
//! ```
//!
//! a vector-Jacobian product that each backward rule computes without forming J (for
//! elementwise ops J is diagonal, `x̄ += ȳ ⊙ f'(x)`; for `Y = A B` it is `Ā += Ȳ Bᵀ`). The
//! `+=` is the multivariable chain rule: a value used by several nodes gets one term per use,
//! and by the time the sweep reaches it every consumer (a later node) has contributed.
//!
//! Example, `f = x·y + x` at x = 3, y = 2 (x is used twice):
//!
//! ```text
//! forward           value    reverse, last node first (g[i] = ∂f/∂%i; all start at 0)
//! %0 = x              3      g[3] = 1                                  (the root)
//! %1 = y              2      at %3 = add(%2, %0):  g[2] += g[3] = 1    g[0] += g[3] = 1
//! %2 = mul(%0, %1)    6      at %2 = mul(%0, %1):  g[0] += %1·g[2] = 2  g[1] += %0·g[2] = 3
//! %3 = add(%2, %0)    9      so ∂f/∂x = g[0] = 1 + 2 = y + 1,  ∂f/∂y = g[1] = 3 = x
//! ```
//!
//! Why reverse mode: one sweep yields the gradient with respect to *every* input for a small
//! constant multiple of the forward cost (the "cheap gradient principle"), whereas forward
//! mode needs one sweep per input. A loss has one output and ~10⁵ parameters.
//!
//! ## Why the sweep is in its own file
//!
//! The tape stores `Op`s; each family in [`super::ops`] records them (its forward methods are
//! `Tape` methods) and owns their backward rules. If the tape also called the rules, `tape`
//! and `ops` would import each other. Here the dependency is one-way: [`super::op`] (data) ←
//! [`super::tape`] (the list and the adjoint store) ← [`super::ops`] (forward + backward per
//! family) ← this file (the sweep and the one table that routes a node to its rule).

use super::op::{Op, Var};
use super::ops::{arithmetic, loss, reduce, shape, spatial};
use super::tape::{Adjoints, Gradients, Tape};
use crate::error::{Error, Result};
use crate::tensor::Tensor;

impl Tape<'_> {
    /// Reverse sweep: `∂root/∂v` for every node below `root` that needs a gradient.
    ///
    /// `root` must hold exactly one element (a loss or a score); its adjoint starts at 1.
    /// The tape is not modified, so `backward` may be called again for another root.
    /// Adjoints of intermediate nodes are kept too (Grad-CAM reads a feature map's).
    ///
    /// A value used twice receives both contributions. With `f = x·x + x`,
    /// `∂f/∂x = 2x + 1`:
    ///
    /// ```
    /// use grad_instructor::{Tape, Tensor};
    /// # fn main() -> grad_instructor::Result<()> {
    /// let mut tape = Tape::new();
    /// let x = tape.leaf(Tensor::from_vec(vec![3.0], &[1])?, true);
    /// let xx = tape.mul(x, x)?;
    /// let f = tape.add(xx, x)?;
    /// let root = tape.sum(f); // a one-element root
    /// let grads = tape.backward(root)?;
    /// assert_eq!(grads.get(x).unwrap().data(), &[7.0]); // 2·3 + 1
    /// assert_eq!(grads.get(xx).unwrap().data(), &[1.0]); // intermediate adjoints are kept
    /// assert!(tape.backward(f).is_ok()); // f has one element too; the tape is unchanged
    /// # Ok(()) }
    /// ```
    pub fn backward(&self, root: Var) -> Result<Gradients> {
        let root_value = self.value(root);
        if root_value.numel() != 1 {
            return Err(Error::shape(
                "Tape::backward",
                "a one-element root",
                format!("{}", root_value.shape()),
            ));
        }
        let mut adj = Adjoints::new(self, root.index() + 1);
        adj.put(root.index(), Tensor::full(root_value.dims(), 1.0)?);
        // Walk the Wengert list backwards: every consumer of node i has a larger index, so
        // when we reach i its adjoint is complete.
        for i in (0..=root.index()).rev() {
            let node = &self.nodes[i];
            if !node.needs_grad || matches!(node.op, Op::Leaf) {
                continue;
            }
            let Some(g) = adj.take(i) else { continue };
            node.op.backward(&mut adj, &node.value, &g)?;
            adj.put(i, g); // keep intermediate adjoints readable (Grad-CAM needs them)
        }
        Ok(adj.into_gradients())
    }
}

impl Op {
    /// Applies this op's vector-Jacobian product: given `g = ∂root/∂y` (y = `out`), adds
    /// `∂root/∂input` into each input's adjoint. One line per op; the rules are in the
    /// family files, beside their forward passes.
    fn backward(&self, adj: &mut Adjoints<'_, '_>, out: &Tensor, g: &Tensor) -> Result<()> {
        use arithmetic as ar;
        match *self {
            Op::Leaf => Ok(()),
            Op::Matmul {
                a,
                b,
                trans_a,
                trans_b,
            } => ar::matmul_backward(adj, g, a, b, trans_a, trans_b),
            Op::Binary {
                kind,
                a,
                b,
                b_is_row,
            } => ar::binary_backward(adj, g, kind, a, b, b_is_row),
            Op::AddScalar { a } => ar::add_scalar_backward(adj, g, a),
            Op::MulScalar { a, s } => ar::mul_scalar_backward(adj, g, a, s),
            Op::Unary { kind, a } => ar::unary_backward(adj, out, g, kind, a),
            Op::SumAll { a } => reduce::sum_backward(adj, g, a),
            Op::MeanAll { a } => reduce::mean_backward(adj, g, a),
            Op::SumAxis { a, axis } => reduce::axis_backward(adj, g, a, axis, false),
            Op::MeanAxis { a, axis } => reduce::axis_backward(adj, g, a, axis, true),
            Op::SoftmaxCrossEntropy {
                logits,
                ref labels,
                ref probs,
            } => loss::softmax_cross_entropy_backward(adj, g, logits, labels, probs),
            Op::Mse { a, target } => loss::mse_backward(adj, g, a, target),
            Op::Reshape { a } => shape::reshape_backward(adj, g, a),
            Op::Conv2d { x, w, b, geom } => spatial::conv2d_backward(adj, g, x, w, b, &geom),
            Op::MaxPool2d {
                x,
                geom,
                ref argmax,
            } => spatial::max_pool2d_backward(adj, g, x, &geom, argmax),
            Op::AvgPool2d { x, geom } => spatial::avg_pool2d_backward(adj, g, x, &geom),
            Op::GlobalAvgPool { x, planes, hw } => {
                spatial::global_avg_pool_backward(adj, g, x, planes, hw)
            }
            Op::Resize { x, geom, mode } => spatial::resize_backward(adj, g, x, &geom, mode),
        }
    }
}
