//! The tape: a Wengert list of recorded operations, and the reverse sweep over it.
//!
//! Every operation appends one node holding its result and an `Op` (see [`super::ops`]) that
//! names its inputs by [`Var`] and keeps what its backward rule needs. Inputs always exist
//! before the node that reads them, so the creation order is already a topological order,
//! and walking the list backwards visits every node after all of its consumers: no graph
//! search, no recursion. [`Tape`] implements `Display`, one line per node
//! (`%3 = matmul(%1, %2)  [2, 3]`); `examples/tape_tour.rs` prints one.
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
//! ## Who owns what
//!
//! Parameters live outside the tape. A training step binds them as borrowed leaves
//! ([`Tape::param`]), runs forward and [`Tape::backward`], reads the returned [`Gradients`]
//! (owned by the caller, independent of the tape), drops the tape, and then updates the
//! parameters. Nothing survives the step, so the tape cannot grow across steps.
//!
//! References: R. E. Wengert, "A simple automatic derivative evaluation program", Comm. ACM
//! 7(8), 1964; A. Griewank and A. Walther, *Evaluating Derivatives*, 2nd ed., SIAM 2008
//! (chapter 3 for the reverse mode, chapter 4 for its cost).

use super::ops::Op;
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::fmt;

/// A handle to a value recorded on a [`Tape`]: its index in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub(crate) u32);

impl Var {
    /// Position on the tape (creation order).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// A node's value: owned (op results, constants) or borrowed from outside (parameters, so that
/// binding a 100x784 weight matrix costs no copy).
pub(crate) enum Value<'a> {
    Owned(Tensor),
    Borrowed(&'a Tensor),
}

impl std::ops::Deref for Value<'_> {
    type Target = Tensor;
    fn deref(&self) -> &Tensor {
        match self {
            Value::Owned(t) => t,
            Value::Borrowed(t) => t,
        }
    }
}

/// One entry of the Wengert list.
pub(crate) struct Node<'a> {
    pub(crate) op: Op,
    pub(crate) value: Value<'a>,
    /// Whether any leaf that asked for a gradient lies below this node. Backward skips nodes
    /// without it: no work is spent on branches nobody differentiates (e.g. frozen ENN weights).
    pub(crate) needs_grad: bool,
}

/// A Wengert list of values and the operations that produced them.
///
/// `'a` is the lifetime of borrowed leaves (parameters bound with [`Tape::param`]).
#[derive(Default)]
pub struct Tape<'a> {
    pub(crate) nodes: Vec<Node<'a>>,
}

/// Gradients of one scalar root with respect to every recorded value that needed one.
///
/// Independent of the tape's lifetime, so a training loop can drop the tape (releasing its
/// borrow of the parameters) and still read the gradients to update them.
pub struct Gradients {
    grads: Vec<Option<Tensor>>,
}

impl Gradients {
    /// `∂root/∂v`, or `None` if `v` does not influence the root or needs no gradient.
    pub fn get(&self, v: Var) -> Option<&Tensor> {
        self.grads.get(v.index()).and_then(Option::as_ref)
    }

    /// Like [`Gradients::get`] but a typed error naming `what` when there is none.
    pub fn expect(&self, v: Var, what: &'static str) -> Result<&Tensor> {
        self.get(v)
            .ok_or_else(|| Error::invalid(what, "no gradient reached this value"))
    }

    /// Moves the gradient of `v` out.
    pub fn take(&mut self, v: Var) -> Option<Tensor> {
        self.grads.get_mut(v.index()).and_then(Option::take)
    }
}

impl<'a> Tape<'a> {
    /// An empty tape.
    pub fn new() -> Self {
        Tape { nodes: Vec::new() }
    }

    /// An empty tape with room for `n` nodes (avoids regrowth in a hot loop).
    pub fn with_capacity(n: usize) -> Self {
        Tape {
            nodes: Vec::with_capacity(n),
        }
    }

    /// Number of recorded nodes.
    pub fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.nodes.is_empty()
    }

    /// Capacity of the node list (for the flat-memory test).
    pub fn capacity(&self) -> usize {
        self.nodes.capacity()
    }

    /// Forgets every node but keeps the allocation, so the tape can be reused.
    pub fn reset(&mut self) {
        self.nodes.clear();
    }

    pub(crate) fn push(&mut self, op: Op, value: Tensor) -> Var {
        let needs_grad = op.inputs().iter().any(|v| self.nodes[v.index()].needs_grad);
        self.push_node(op, Value::Owned(value), needs_grad)
    }

    fn push_node(&mut self, op: Op, value: Value<'a>, needs_grad: bool) -> Var {
        let id = Var(self.nodes.len() as u32);
        self.nodes.push(Node {
            op,
            value,
            needs_grad,
        });
        id
    }

    /// Binds a parameter (borrowed, no copy) as a leaf that receives a gradient.
    pub fn param(&mut self, t: &'a Tensor) -> Var {
        self.push_node(Op::Leaf, Value::Borrowed(t), true)
    }

    /// Binds a borrowed tensor as a constant leaf (no gradient): frozen weights, data.
    pub fn constant_ref(&mut self, t: &'a Tensor) -> Var {
        self.push_node(Op::Leaf, Value::Borrowed(t), false)
    }

    /// Records an owned tensor as a leaf; `requires_grad` asks for its gradient (e.g. an
    /// input image whose saliency we want).
    pub fn leaf(&mut self, t: Tensor, requires_grad: bool) -> Var {
        self.push_node(Op::Leaf, Value::Owned(t), requires_grad)
    }

    /// Records an owned constant (no gradient).
    pub fn constant(&mut self, t: Tensor) -> Var {
        self.leaf(t, false)
    }

    /// The value of `v` (any node, leaf or intermediate).
    pub fn value(&self, v: Var) -> &Tensor {
        &self.nodes[v.index()].value
    }

    /// The single value of a one-element node.
    pub fn item(&self, v: Var) -> Result<f32> {
        self.value(v).item()
    }

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
        let mut grads: Vec<Option<Tensor>> = Vec::with_capacity(root.index() + 1);
        grads.resize_with(root.index() + 1, || None);
        grads[root.index()] = Some(Tensor::full(root_value.dims(), 1.0)?);
        // Walk the Wengert list backwards: every consumer of node i has a larger index, so
        // when we reach i its adjoint is complete.
        for i in (0..=root.index()).rev() {
            let node = &self.nodes[i];
            if !node.needs_grad || matches!(node.op, Op::Leaf) {
                continue;
            }
            let Some(g) = grads[i].take() else { continue };
            node.op.backward(self, &node.value, &g, &mut grads)?;
            grads[i] = Some(g); // keep intermediate adjoints readable (Grad-CAM needs them)
        }
        Ok(Gradients { grads })
    }

    /// Adds `delta` to the adjoint of `v` (allocating it on first use), if `v` needs one.
    pub(crate) fn accumulate(
        &self,
        grads: &mut [Option<Tensor>],
        v: Var,
        f: impl FnOnce(&mut [f32]),
    ) {
        let node = &self.nodes[v.index()];
        if !node.needs_grad {
            return;
        }
        let slot = &mut grads[v.index()];
        let g = slot.get_or_insert_with(|| node.value.zeros_like());
        f(g.data_mut());
    }

    /// Like [`Tape::accumulate`] for a contribution that covers every element of `v`'s
    /// adjoint: the first contribution is built by `fresh` (the contribution itself, one
    /// value per element of `v`) instead of being added onto a zero-filled buffer, which
    /// saves a memset and a pass; later contributions are added by `add`. The result equals
    /// `accumulate(add)` except that a first contribution of −0 stays −0 (`0 + (−0)` is +0).
    pub(crate) fn accumulate_fresh(
        &self,
        grads: &mut [Option<Tensor>],
        v: Var,
        fresh: impl FnOnce() -> Vec<f32>,
        add: impl FnOnce(&mut [f32]),
    ) -> Result<()> {
        let node = &self.nodes[v.index()];
        if !node.needs_grad {
            return Ok(());
        }
        // Below this many elements the zero fill costs nothing and building a tensor from a
        // fresh Vec (shape validation, a second code path) measured slower in op_chain/100.
        const FRESH_MIN_LEN: usize = 64;
        match &mut grads[v.index()] {
            Some(g) => add(g.data_mut()),
            slot @ None if node.value.numel() < FRESH_MIN_LEN => {
                add(slot.insert(node.value.zeros_like()).data_mut())
            }
            slot @ None => *slot = Some(Tensor::from_vec(fresh(), node.value.dims())?),
        }
        Ok(())
    }
}

/// One line per node, `%i = op(inputs)  shape`; leaves say whether they take a gradient.
///
/// ```
/// use grad_instructor::{Tape, Tensor};
/// # fn main() -> grad_instructor::Result<()> {
/// let (w, x) = (Tensor::ones(&[2, 3])?, Tensor::ones(&[3, 1])?);
/// let mut tape = Tape::new();
/// let (wv, xv) = (tape.param(&w), tape.constant_ref(&x));
/// let y = tape.matmul(wv, xv)?;
/// tape.sum(y);
/// let expected = "\
/// %0 = leaf (grad)  [2, 3]
/// %1 = leaf  [3, 1]
/// %2 = matmul(%0, %1)  [2, 1]
/// %3 = sum(%2)  []
/// ";
/// assert_eq!(tape.to_string(), expected);
/// # Ok(()) }
/// ```
impl fmt::Display for Tape<'_> {
    /// One line per node: `%3 = matmul(%1, %2)  [2, 3]`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, node) in self.nodes.iter().enumerate() {
            let args: Vec<String> = node
                .op
                .inputs()
                .iter()
                .map(|v| format!("%{}", v.0))
                .collect();
            let kind = match (&node.op, node.needs_grad) {
                (Op::Leaf, true) => "leaf (grad)".to_string(),
                (Op::Leaf, false) => "leaf".to_string(),
                (op, _) => format!("{}({})", op.name(), args.join(", ")),
            };
            writeln!(f, "%{i} = {kind}  {}", node.value.shape())?;
        }
        Ok(())
    }
}
