//! What a node of the tape is called and what it recorded: its [`Var`] (its index on the
//! tape), and the `Op` that made it: its inputs and whatever its backward rule needs later
//! (the softmax of a cross-entropy, the argmax of a max pool).
//!
//! This file is data only: the recorded form of every op, in one table, and nothing that
//! computes. The forward passes and backward rules live by family in [`super::ops`]; the tape
//! ([`super::tape`]) stores `Op`s without knowing any rule. That keeps the imports one-way
//! (see [`super`]).

use crate::kernels::conv::Conv2dGeometry;
use crate::kernels::pool::Pool2dGeometry;
use crate::kernels::resize::{ResizeGeometry, ResizeMode};

/// A handle to a value recorded on a [`Tape`](super::Tape): its index in the list.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Var(pub(crate) u32);

impl Var {
    /// Position on the tape (creation order).
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

/// Elementwise binary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BinaryKind {
    /// `a + b`
    Add,
    /// `a - b`
    Sub,
    /// `a * b`
    Mul,
    /// `a / b`
    Div,
}

/// Elementwise unary operations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryKind {
    /// `max(x, 0)`
    Relu,
    /// `1 / (1 + e^-x)`
    Sigmoid,
    /// `tanh x`
    Tanh,
    /// `e^x`
    Exp,
    /// `ln x`
    Log,
    /// `|x|`
    Abs,
}

/// A recorded operation: its inputs and what its backward rule needs. The family that owns
/// each variant (its forward and backward) is named in the comment above it.
pub(crate) enum Op {
    Leaf,
    // ops/arithmetic.rs
    Matmul {
        a: Var,
        b: Var,
        trans_a: bool,
        trans_b: bool,
    },
    /// `b` is either shaped like `a`, or a row vector broadcast over `a`'s last axis.
    Binary {
        kind: BinaryKind,
        a: Var,
        b: Var,
        b_is_row: bool,
    },
    AddScalar {
        a: Var,
    },
    MulScalar {
        a: Var,
        s: f32,
    },
    Unary {
        kind: UnaryKind,
        a: Var,
    },
    // ops/reduce.rs
    SumAll {
        a: Var,
    },
    MeanAll {
        a: Var,
    },
    SumAxis {
        a: Var,
        axis: usize,
    },
    MeanAxis {
        a: Var,
        axis: usize,
    },
    // ops/loss.rs
    /// Mean over the batch of `-log softmax(logits)[label]`; keeps the softmax.
    SoftmaxCrossEntropy {
        logits: Var,
        labels: Vec<u32>,
        probs: Vec<f32>,
    },
    Mse {
        a: Var,
        target: Var,
    },
    // ops/shape.rs
    Reshape {
        a: Var,
    },
    // ops/spatial.rs
    Conv2d {
        x: Var,
        w: Var,
        b: Option<Var>,
        geom: Conv2dGeometry,
    },
    MaxPool2d {
        x: Var,
        geom: Pool2dGeometry,
        argmax: Vec<u32>,
    },
    AvgPool2d {
        x: Var,
        geom: Pool2dGeometry,
    },
    GlobalAvgPool {
        x: Var,
        planes: usize,
        hw: usize,
    },
    Resize {
        x: Var,
        geom: ResizeGeometry,
        mode: ResizeMode,
    },
}

impl Op {
    /// The op's inputs, in order.
    pub(crate) fn inputs(&self) -> Vec<Var> {
        match *self {
            Op::Leaf => vec![],
            Op::Matmul { a, b, .. } | Op::Binary { a, b, .. } => vec![a, b],
            Op::Mse { a, target } => vec![a, target],
            Op::AddScalar { a }
            | Op::MulScalar { a, .. }
            | Op::Unary { a, .. }
            | Op::SumAll { a }
            | Op::MeanAll { a }
            | Op::SumAxis { a, .. }
            | Op::MeanAxis { a, .. }
            | Op::Reshape { a } => vec![a],
            Op::SoftmaxCrossEntropy { logits, .. } => vec![logits],
            Op::Conv2d { x, w, b, .. } => [Some(x), Some(w), b].into_iter().flatten().collect(),
            Op::MaxPool2d { x, .. }
            | Op::AvgPool2d { x, .. }
            | Op::GlobalAvgPool { x, .. }
            | Op::Resize { x, .. } => vec![x],
        }
    }

    /// Short name for printing the tape.
    pub(crate) fn name(&self) -> &'static str {
        match self {
            Op::Leaf => "leaf",
            Op::Matmul { .. } => "matmul",
            Op::Binary { kind, .. } => match kind {
                BinaryKind::Add => "add",
                BinaryKind::Sub => "sub",
                BinaryKind::Mul => "mul",
                BinaryKind::Div => "div",
            },
            Op::AddScalar { .. } => "add_scalar",
            Op::MulScalar { .. } => "mul_scalar",
            Op::Unary { kind, .. } => match kind {
                UnaryKind::Relu => "relu",
                UnaryKind::Sigmoid => "sigmoid",
                UnaryKind::Tanh => "tanh",
                UnaryKind::Exp => "exp",
                UnaryKind::Log => "log",
                UnaryKind::Abs => "abs",
            },
            Op::SumAll { .. } => "sum",
            Op::MeanAll { .. } => "mean",
            Op::SumAxis { .. } => "sum_axis",
            Op::MeanAxis { .. } => "mean_axis",
            Op::SoftmaxCrossEntropy { .. } => "softmax_cross_entropy",
            Op::Mse { .. } => "mse",
            Op::Reshape { .. } => "reshape",
            Op::Conv2d { .. } => "conv2d",
            Op::MaxPool2d { .. } => "max_pool2d",
            Op::AvgPool2d { .. } => "avg_pool2d",
            Op::GlobalAvgPool { .. } => "global_avg_pool",
            Op::Resize { .. } => "resize",
        }
    }
}
