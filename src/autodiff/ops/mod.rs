//! Every differentiable operation, by family. Each file holds a family's forward passes
//! (methods on [`Tape`](super::Tape), which validate shapes, compute the value and record an
//! `Op`) next to its backward rules (one function per op, the derivative stated beside the
//! code). [`super::backward`] routes each recorded node to its rule.
//!
//! Notation: `g` (ḡ) is the adjoint of the op's output (`∂root/∂y`), shaped like `y`; each
//! rule *adds* its term into the inputs' adjoints (see [`super::backward`] for why `+=`).
//!
//! | family | ops |
//! |---|---|
//! | [`arithmetic`] | `matmul`, `matmul_t`; `add`, `sub`, `mul`, `div` (with a row broadcast); `add_scalar`, `mul_scalar`; `relu`, `sigmoid`, `tanh`, `exp`, `log`, `abs` |
//! | [`reduce`] | `sum`, `mean`, `sum_axis`, `mean_axis` |
//! | [`loss`] | `softmax_cross_entropy` (fused, log-sum-exp), `mse` |
//! | [`spatial`] | `conv2d`, `max_pool2d`, `avg_pool2d`, `global_avg_pool`, `resize` |
//! | [`shape`] | `reshape` |
//!
//! Each file's docs give its table of adjoint contributions. Each rule is checked against
//! central finite differences in `tests/autodiff_gradcheck.rs` (with [`super::gradcheck`]).
//!
//! A family imports [`super::op`] (to record) and [`super::tape`] (the list and the adjoint
//! store) and nothing above them.

pub mod arithmetic;
pub mod loss;
pub mod reduce;
pub mod shape;
pub mod spatial;
