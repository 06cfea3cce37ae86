//! Gradient checking: the tape's gradient against central finite differences.
//!
//! For a scalar function f of the inputs, `∂f/∂x_i ≈ (f(x + h e_i) − f(x − h e_i)) / 2h` with
//! error O(h² f''') from truncation plus O(ε_f |f| / h) from rounding the f32 forward pass
//! (ε_f ≈ 6e-8). With h = 1e-2 and values of order 1, both are below 1e-4, so an absolute
//! tolerance near 1e-3 plus a relative one of 1e-2 separates a right rule from a wrong one
//! (a wrong rule is typically off by O(1)). The f32 *sum* of the forward output is formed in
//! f64 by the ops themselves where it matters (sum/mean/mse/cross-entropy accumulate in f64).
//! Tests whose function has large curvature pass a smaller `h` and say why.

use super::op::Var;
use super::tape::Tape;
use crate::error::Result;
use crate::tensor::Tensor;

/// The worst disagreement found by [`check_gradients`].
#[derive(Debug, Clone)]
pub struct GradCheck {
    /// Largest `|analytic − numeric| − (atol + rtol·|numeric|)` seen (≤ 0 means all within tolerance).
    pub worst_excess: f64,
    /// (input index, element index, analytic, numeric) at the worst point.
    pub worst: (usize, usize, f64, f64),
    /// Number of elements compared.
    pub checked: usize,
}

impl GradCheck {
    /// Whether every element agreed within tolerance.
    pub fn passed(&self) -> bool {
        self.worst_excess <= 0.0
    }
}

/// Compares `∂f/∂inputs` from the tape with central differences of step `h`.
///
/// `f` records a computation on the tape from the given leaf variables (one per input, each
/// requiring a gradient) and returns a one-element root. It is called once for the tape's
/// gradient and twice per input element for the differences, so keep inputs small.
///
/// ```
/// use grad_instructor::autodiff::gradcheck::check_gradients;
/// use grad_instructor::Tensor;
/// # fn main() -> grad_instructor::Result<()> {
/// let x = Tensor::from_vec(vec![0.3, -0.7, 1.1], &[3])?;
/// // f(x) = Σ tanh(x) ⊙ x, a smooth function whose gradient uses the tanh rule and reuse of x.
/// let report = check_gradients(&[x], 1e-2, 1e-3, 1e-2, |tape, v| {
///     let t = tape.tanh(v[0]);
///     let p = tape.mul(t, v[0])?;
///     Ok(tape.sum(p))
/// })?;
/// assert!(report.passed(), "{report:?}");
/// assert_eq!(report.checked, 3);
/// # Ok(()) }
/// ```
pub fn check_gradients(
    inputs: &[Tensor],
    h: f32,
    atol: f64,
    rtol: f64,
    f: impl Fn(&mut Tape<'_>, &[Var]) -> Result<Var>,
) -> Result<GradCheck> {
    let eval = |xs: &[Tensor]| -> Result<f64> {
        let mut tape = Tape::new();
        let vars: Vec<Var> = xs.iter().map(|x| tape.leaf(x.clone(), true)).collect();
        let root = f(&mut tape, &vars)?;
        Ok(tape.item(root)? as f64)
    };
    let mut tape = Tape::new();
    let vars: Vec<Var> = inputs.iter().map(|x| tape.leaf(x.clone(), true)).collect();
    let root = f(&mut tape, &vars)?;
    let grads = tape.backward(root)?;
    let mut report = GradCheck {
        worst_excess: f64::NEG_INFINITY,
        worst: (0, 0, 0.0, 0.0),
        checked: 0,
    };
    let mut xs: Vec<Tensor> = inputs.to_vec();
    for (t, &v) in vars.iter().enumerate() {
        let analytic = grads
            .get(v)
            .map(|g| g.data().to_vec())
            .unwrap_or_else(|| vec![0.0; inputs[t].numel()]);
        for i in 0..inputs[t].numel() {
            let x0 = xs[t].data()[i];
            xs[t].data_mut()[i] = x0 + h;
            let plus = eval(&xs)?;
            xs[t].data_mut()[i] = x0 - h;
            let minus = eval(&xs)?;
            xs[t].data_mut()[i] = x0;
            let numeric = (plus - minus) / (2.0 * h as f64);
            let a = analytic[i] as f64;
            let excess = (a - numeric).abs() - (atol + rtol * numeric.abs());
            if excess > report.worst_excess || excess.is_nan() {
                report.worst_excess = if excess.is_nan() {
                    f64::INFINITY
                } else {
                    excess
                };
                report.worst = (t, i, a, numeric);
            }
            report.checked += 1;
        }
    }
    Ok(report)
}
