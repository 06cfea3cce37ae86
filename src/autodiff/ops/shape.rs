//! Shape ops: the same values under new dimensions.
//!
//! | forward | adjoint contributions |
//! |---|---|
//! | reshape | `x̄ += ḡ` (same flat order) |

use crate::autodiff::op::{Op, Var};
use crate::autodiff::tape::{Adjoints, Tape};
use crate::error::Result;
use crate::tensor::Tensor;

/// Forward passes.
impl Tape<'_> {
    /// Same values, new dimensions.
    pub fn reshape(&mut self, a: Var, dims: &[usize]) -> Result<Var> {
        let y = self.value(a).clone().reshape(dims)?;
        Ok(self.push(Op::Reshape { a }, y))
    }
}

/// Reshape keeps the flat order, so its Jacobian is the identity: `x̄ += ḡ`.
pub(crate) fn reshape_backward(adj: &mut Adjoints<'_, '_>, g: &Tensor, a: Var) -> Result<()> {
    adj.accumulate_copy(a, g.data())
}
