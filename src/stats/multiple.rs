//! Multiple comparisons: the Holm–Bonferroni step-down adjustment.

use crate::error::{Error, Result};

/// Holm–Bonferroni adjusted p-values of a family of `m` tests, in the input's order
/// (statsmodels' `multipletests(p, method='holm')[1]`).
///
/// With the p-values sorted ascending, `p_(1) <= ... <= p_(m)`, the adjusted value of the
/// `i`-th smallest is
///
/// `p̃_(i) = min(1, max_{j <= i} (m - j + 1) p_(j))`.
///
/// Rejecting every hypothesis with `p̃ <= α` is Holm's step-down procedure (compare `p_(1)`
/// with `α/m`, `p_(2)` with `α/(m-1)`, ..., stop at the first that fails), which controls the
/// family-wise error rate at `α` under any dependence between the tests and is never less
/// powerful than Bonferroni (`m p`). The running maximum makes the adjusted values monotone
/// in the raw ones (a smaller p never gets a larger adjusted value; ties stay tied), and the
/// result is capped at 1.
///
/// An undefined test (NaN p-value) still belongs to the family: it counts in `m` (the
/// conservative choice; dropping it would shrink the others' adjustment after the fact), is
/// ordered last as if it had `p = 1`, and its adjusted value is NaN. An empty family gives an
/// empty vector. `Err(Error::InvalidArgument)` for a p-value outside `[0, 1]` (a caller bug).
pub fn holm(p_values: &[f64]) -> Result<Vec<f64>> {
    if let Some(&bad) = p_values
        .iter()
        .find(|p| !p.is_nan() && !(0.0..=1.0).contains(*p))
    {
        return Err(Error::invalid(
            "holm",
            format!("p-values must lie in [0, 1] (or be NaN for an undefined test), got {bad}"),
        ));
    }
    let m = p_values.len();
    let mut order: Vec<usize> = (0..m).collect();
    // Stable sort, NaN last: ties keep their input order (their adjusted values are equal).
    order.sort_by(|&i, &j| {
        let key = |p: f64| if p.is_nan() { f64::INFINITY } else { p };
        key(p_values[i]).total_cmp(&key(p_values[j]))
    });
    let mut adjusted = vec![f64::NAN; m];
    let mut running = 0.0f64;
    for (rank, &i) in order.iter().enumerate() {
        let p = p_values[i];
        if p.is_nan() {
            continue;
        }
        // rank is 0-based, so the multiplier m - j + 1 (1-based j) is m - rank.
        running = running.max(((m - rank) as f64 * p).min(1.0));
        adjusted[i] = running;
    }
    Ok(adjusted)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn holm_is_monotone_capped_and_keeps_the_input_order() {
        // m = 4; sorted 0.01, 0.02, 0.03, 0.5 -> 0.04, max(0.04, 0.06), max(.., 0.06), 0.5.
        let adj = holm(&[0.03, 0.5, 0.01, 0.02]).unwrap();
        let expect = [0.06, 0.5, 0.04, 0.06];
        for (a, e) in adj.iter().zip(expect) {
            // Products of small decimals: a few ulps.
            assert!((a - e).abs() < 1e-15, "{adj:?}");
        }
        assert_eq!(holm(&[0.9, 0.8]).unwrap(), vec![1.0, 1.0]);
        assert_eq!(holm(&[]).unwrap(), Vec::<f64>::new());
        assert_eq!(holm(&[0.2]).unwrap(), vec![0.2]);
        // Ties get the same adjusted value whatever their position.
        let tied = holm(&[0.01, 0.04, 0.01]).unwrap();
        assert_eq!(tied[0], tied[2]);
    }

    #[test]
    fn holm_counts_undefined_tests_and_rejects_impossible_p_values() {
        let adj = holm(&[0.01, f64::NAN, 0.02]).unwrap();
        assert!(adj[1].is_nan());
        // m = 3 although one test is undefined.
        assert!((adj[0] - 0.03).abs() < 1e-16 && (adj[2] - 0.04).abs() < 1e-16);
        for bad in [-0.1, 1.5, f64::INFINITY] {
            assert!(matches!(
                holm(&[0.1, bad]),
                Err(Error::InvalidArgument { .. })
            ));
        }
    }
}
