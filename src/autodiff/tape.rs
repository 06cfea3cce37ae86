//! The tape: a Wengert list of recorded operations, and the reverse sweep over it.
//!
//! Every operation appends one node holding its result and an `Op` (see [`super::op`]) that
//! names its inputs by [`Var`] and keeps what its backward rule needs. Inputs always exist
//! before the node that reads them, so the creation order is already a topological order,
//! and walking the list backwards visits every node after all of its consumers: no graph
//! search, no recursion. [`Tape`] implements `Display`, one line per node
//! (`%3 = matmul(%1, %2)  [2, 3]`); `examples/tape_tour.rs` prints one.
//!
//! The reverse sweep itself, [`Tape::backward`], is in [`super::backward`] with the chain rule
//! it applies; this file holds the list, the leaves, and the adjoint store (`Adjoints`) that
//! each backward rule adds its contribution into.
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

use super::op::{Op, Var};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use std::fmt;

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

/// The adjoints of one reverse sweep, as a backward rule sees them: it reads recorded values
/// ([`Adjoints::value`]) and adds its vector-Jacobian product into its inputs' adjoints
/// ([`Adjoints::accumulate`]). Inputs that need no gradient are skipped here, so a rule never
/// checks.
pub(crate) struct Adjoints<'t, 'a> {
    tape: &'t Tape<'a>,
    grads: Vec<Option<Tensor>>,
}

/// Adjoints of at least this many elements take [`Adjoints::accumulate_fresh`]'s first
/// contribution as they are; smaller ones are added onto zeros (`0 + v`: a −0 becomes +0).
/// Below it the zero fill costs nothing and building a tensor from a fresh Vec (shape
/// validation, a second code path) measured slower in op_chain/100. (The tape-free frozen
/// ENN in `instructor` reproduces both cases.)
pub(crate) const FRESH_MIN_LEN: usize = 64;

impl<'t, 'a> Adjoints<'t, 'a> {
    /// No adjoint yet for nodes `0..len`.
    pub(crate) fn new(tape: &'t Tape<'a>, len: usize) -> Self {
        let mut grads = Vec::with_capacity(len);
        grads.resize_with(len, || None);
        Adjoints { tape, grads }
    }

    /// The recorded value of `v` (borrowed from the tape, not from `self`).
    pub(crate) fn value(&self, v: Var) -> &'t Tensor {
        self.tape.value(v)
    }

    /// Moves the adjoint of node `i` out (the sweep hands it to the node's rule).
    pub(crate) fn take(&mut self, i: usize) -> Option<Tensor> {
        self.grads[i].take()
    }

    /// Sets the adjoint of node `i`.
    pub(crate) fn put(&mut self, i: usize, g: Tensor) {
        self.grads[i] = Some(g);
    }

    /// The finished sweep.
    pub(crate) fn into_gradients(self) -> Gradients {
        Gradients { grads: self.grads }
    }

    /// Adds `delta` to the adjoint of `v` (allocating it on first use), if `v` needs one.
    pub(crate) fn accumulate(&mut self, v: Var, f: impl FnOnce(&mut [f32])) {
        let node = &self.tape.nodes[v.index()];
        if !node.needs_grad {
            return;
        }
        let slot = &mut self.grads[v.index()];
        let g = slot.get_or_insert_with(|| node.value.zeros_like());
        f(g.data_mut());
    }

    /// Like [`Adjoints::accumulate`] for a contribution that covers every element of `v`'s
    /// adjoint: the first contribution is built by `fresh` (the contribution itself, one
    /// value per element of `v`) instead of being added onto a zero-filled buffer, which
    /// saves a memset and a pass; later contributions are added by `add`. The result equals
    /// `accumulate(add)` except that a first contribution of −0 stays −0 (`0 + (−0)` is +0).
    pub(crate) fn accumulate_fresh(
        &mut self,
        v: Var,
        fresh: impl FnOnce() -> Vec<f32>,
        add: impl FnOnce(&mut [f32]),
    ) -> Result<()> {
        let node = &self.tape.nodes[v.index()];
        if !node.needs_grad {
            return Ok(());
        }
        match &mut self.grads[v.index()] {
            Some(g) => add(g.data_mut()),
            slot @ None if node.value.numel() < FRESH_MIN_LEN => {
                add(slot.insert(node.value.zeros_like()).data_mut())
            }
            slot @ None => *slot = Some(Tensor::from_vec(fresh(), node.value.dims())?),
        }
        Ok(())
    }

    /// `v̄ += g` for a `g` shaped like `v` (an identity Jacobian: shift, reshape).
    pub(crate) fn accumulate_copy(&mut self, v: Var, g: &[f32]) -> Result<()> {
        self.accumulate_fresh(
            v,
            || g.to_vec(),
            |dv| dv.iter_mut().zip(g).for_each(|(d, &s)| *d += s),
        )
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

    /// Records the result of an op (the forward methods in [`super::ops`] call this).
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

    /// The leaf that borrows `t` (bound with [`Tape::param`] or [`Tape::constant_ref`]), found
    /// by identity, not by value; `None` if `t` is bound by no leaf or by more than one (then
    /// each leaf holds part of its gradient, and no single `Var` stands for it).
    pub fn leaf_of(&self, t: &Tensor) -> Option<Var> {
        let mut found = None;
        for (i, node) in self.nodes.iter().enumerate() {
            if let (Op::Leaf, Value::Borrowed(b)) = (&node.op, &node.value) {
                if std::ptr::eq(*b, t) {
                    if found.is_some() {
                        return None;
                    }
                    found = Some(Var(i as u32));
                }
            }
        }
        found
    }

    /// The single value of a one-element node.
    pub fn item(&self, v: Var) -> Result<f32> {
        self.value(v).item()
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
