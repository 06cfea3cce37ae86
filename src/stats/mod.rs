//! Statistics over f64 samples, as the experiment reports them: descriptive statistics,
//! t-tests (Welch, paired, TOST equivalence), a percentile-bootstrap interval, correlations
//! with permutation p-values, and Holm's multiple-comparison adjustment.
//!
//! | module | what | reference it is tested against (`tests/stats.rs`) |
//! |---|---|---|
//! | here | [`mean`], [`variance`], [`std_dev`], [`paired_differences`] | numpy |
//! | [`ttest`] | [`welch_t_test`], [`paired_t_test`], [`tost_paired`] | scipy `ttest_ind(equal_var=False)`, `ttest_rel`, `ttest_1samp` |
//! | [`bootstrap`] | [`bootstrap_mean_ci`] (percentile method) | coverage and width on synthetic data; a 10^6-resample numpy bootstrap |
//! | [`correlation`] | [`pearson`], [`spearman`], their permutation tests | scipy `pearsonr`, `spearmanr`, `permutation_test` |
//! | [`multiple`] | [`holm`] | statsmodels `multipletests(method='holm')` |
//! | [`special`] | Student's t tails, incomplete beta, log-gamma | scipy `t.sf`, `special.betainc` |
//! | [`summary`] | [`paired_summary`]: paired test + bootstrap CI + Welch in one call | (composition) |
//!
//! The golden values come from `benches/compare/stats_scipy.py`; each test names the call.
//!
//! The experiments report a handful of seeds per arm (n = 3..20), so everything here is exact
//! two-pass arithmetic on short slices; nothing is streamed.
//!
//! ## Paired, not unpaired
//! The arms of the experiment share initial weights and data order per seed, so seed `i` of
//! one arm is matched with seed `i` of another. The primary comparison is therefore on the
//! differences `a_i - b_i` ([`paired_t_test`], [`bootstrap_mean_ci`] of the differences,
//! [`tost_paired`] when the claim is "no worse than"); Welch's test is kept as a secondary
//! column. The p-values of one table form a family, adjusted together with [`holm`].
//!
//! ## Randomness
//! The bootstrap and the Monte Carlo permutation tests take the caller's RNG (`&mut impl Rng`):
//! same seed, same data, same numbers. Exact computations (t-tests, exact permutation tests
//! for n <= 8, Holm) draw nothing.
//!
//! ## Undefined results are NaN, on purpose and documented
//! A mean of nothing, a t-test with fewer than two observations in a sample, or a correlation of
//! a constant series has no value. Those functions return NaN (in every undefined field of the
//! result structs, each of which has an `is_defined`) rather than an invented number, so a
//! report prints `NaN` and a comparison such as `p < 0.05` is false (the conservative reading).
//! The few cases that *do* have a limit (constant samples or differences) are spelled out on
//! [`welch_t_test`] and [`paired_t_test`]. A length mismatch between paired series is a caller
//! bug and returns [`Error::Shape`]; an argument out of range (zero resamples, a margin
//! `<= 0`, a p-value outside [0, 1]) returns [`Error::InvalidArgument`]. Nothing here panics
//! on data.

pub mod bootstrap;
pub mod correlation;
pub mod multiple;
pub mod special;
pub mod summary;
pub mod ttest;

pub use bootstrap::{
    bootstrap_mean_ci, percentile_of_sorted, BootstrapCi, DEFAULT_LEVEL, DEFAULT_RESAMPLES,
};
pub use correlation::{
    average_ranks, pearson, pearson_permutation_test, spearman, spearman_permutation_test,
    PermutationTest, EXACT_PERMUTATION_MAX_N,
};
pub use multiple::holm;
pub use special::{ln_gamma, regularized_incomplete_beta, student_t_sf, student_t_two_sided_p};
pub use summary::{paired_comparison, paired_summary, PairedComparison};
pub use ttest::{paired_t_test, tost_paired, welch_t_test, PairedTTest, Tost, WelchTest};

use crate::error::{Error, Result};

/// Arithmetic mean. NaN for an empty slice (0/0); NaN or infinity in the input propagates.
///
/// A constant sample returns its value exactly (a plain `sum / n` of `[0.1; 3]` is
/// 0.10000000000000002, which would give two identical constant samples a nonzero variance and
/// a spurious t-test). Otherwise `sum / n` is refined once by the mean residual
/// `sum(x - m) / n`, which removes most of the rounding of the first sum.
pub fn mean(xs: &[f64]) -> f64 {
    let Some(&first) = xs.first() else {
        return f64::NAN;
    };
    if xs.iter().all(|&x| x == first) {
        return first;
    }
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    if !m.is_finite() {
        return m;
    }
    m + xs.iter().map(|&x| x - m).sum::<f64>() / n
}

/// Sample variance with Bessel's correction, `sum (x - mean)^2 / (n - 1)`, computed in two
/// passes (subtracting the mean first avoids the cancellation of `E[x^2] - E[x]^2`).
/// 0 for n < 2 (no spread can be measured).
pub fn variance(xs: &[f64]) -> f64 {
    if xs.len() < 2 {
        return 0.0;
    }
    let m = mean(xs);
    xs.iter().map(|&x| (x - m) * (x - m)).sum::<f64>() / (xs.len() - 1) as f64
}

/// Sample standard deviation (n - 1 denominator). 0 for n < 2.
pub fn std_dev(xs: &[f64]) -> f64 {
    variance(xs).sqrt()
}

/// The paired differences `a_i - b_i`. `Err(Error::Shape)` when the lengths differ.
pub fn paired_differences(op: &'static str, a: &[f64], b: &[f64]) -> Result<Vec<f64>> {
    check_paired(op, a, b)?;
    Ok(a.iter().zip(b).map(|(x, y)| x - y).collect())
}

fn check_paired(op: &'static str, x: &[f64], y: &[f64]) -> Result<()> {
    if x.len() != y.len() {
        return Err(Error::shape(
            op,
            format!("two series of equal length ({})", x.len()),
            format!("lengths {} and {}", x.len(), y.len()),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_dev_is_zero_below_two_samples_and_mean_of_empty_is_nan() {
        assert_eq!(std_dev(&[]), 0.0);
        assert_eq!(std_dev(&[3.0]), 0.0);
        assert!(mean(&[]).is_nan());
        // Exact: deviations are ±1, sum of squares 2, / (n-1) = 1.
        assert_eq!(std_dev(&[1.0, 2.0, 3.0]), 1.0);
    }
}
