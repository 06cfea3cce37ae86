//! One-call paired comparison of two arms, as the experiment tables report it.

use super::{
    bootstrap_mean_ci, paired_differences, paired_t_test, welch_t_test, BootstrapCi, PairedTTest,
    WelchTest, DEFAULT_LEVEL, DEFAULT_RESAMPLES,
};
use crate::error::Result;
use rand::Rng;

/// Everything a table row says about arm `a` against arm `b` over matched seeds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedComparison {
    /// Paired t-test of the differences `a_i - b_i`; holds `n`, `mean_diff` and `sd_diff`.
    pub paired: PairedTTest,
    /// Percentile-bootstrap interval of the mean difference.
    pub ci: BootstrapCi,
    /// Welch's unpaired test of the same two samples (the secondary column: it ignores the
    /// pairing, so it counts the seed-to-seed variance both arms share as noise).
    pub welch: WelchTest,
}

impl PairedComparison {
    /// Mean paired difference `mean(a_i - b_i)`.
    pub fn mean_diff(&self) -> f64 {
        self.paired.mean_diff
    }

    /// Two-sided paired t-test p-value (unadjusted; adjust a table's family with
    /// [`holm`](super::holm)).
    pub fn p_paired(&self) -> f64 {
        self.paired.p_two_sided
    }
}

/// Paired comparison of `a` against `b` (seed `i` of one arm matched with seed `i` of the
/// other): the paired t-test, a `level` percentile-bootstrap interval of the mean difference
/// from `resamples` resamples drawn from `rng`, and Welch's test.
///
/// `Err(Error::Shape)` for unequal lengths, `Err(Error::InvalidArgument)` for `resamples == 0`
/// or a level outside (0, 1). Fewer than two pairs or non-finite values give NaN fields as
/// documented on [`paired_t_test`], [`bootstrap_mean_ci`] and [`welch_t_test`].
///
/// [`Error::Shape`]: crate::Error::Shape
/// [`Error::InvalidArgument`]: crate::Error::InvalidArgument
pub fn paired_comparison<R: Rng + ?Sized>(
    a: &[f64],
    b: &[f64],
    resamples: usize,
    level: f64,
    rng: &mut R,
) -> Result<PairedComparison> {
    let paired = paired_t_test(a, b)?;
    let d = paired_differences("paired_comparison", a, b)?;
    Ok(PairedComparison {
        paired,
        ci: bootstrap_mean_ci(&d, resamples, level, rng)?,
        welch: welch_t_test(a, b),
    })
}

/// [`paired_comparison`] with the pre-registered defaults: a 95% interval from 10,000
/// resamples ([`DEFAULT_LEVEL`], [`DEFAULT_RESAMPLES`]).
pub fn paired_summary<R: Rng + ?Sized>(
    a: &[f64],
    b: &[f64],
    rng: &mut R,
) -> Result<PairedComparison> {
    paired_comparison(a, b, DEFAULT_RESAMPLES, DEFAULT_LEVEL, rng)
}
