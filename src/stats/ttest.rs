//! t-tests: Welch's unequal-variance two-sample test (unpaired), the paired t-test, and the
//! TOST equivalence test on paired differences.
//!
//! The paired tests work on the differences `d_i = a_i - b_i` of matched observations (the
//! experiment's arms share initial weights and data order per seed, so seed `i` of arm `a` is
//! matched with seed `i` of arm `b`). Pairing removes the between-seed variance that both arms
//! share, which Welch's test counts as noise.

use super::{mean, paired_differences, std_dev, student_t_sf, student_t_two_sided_p, variance};
use crate::error::{Error, Result};

/// Result of Welch's unequal-variance two-sample t-test.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct WelchTest {
    /// `(mean(a) - mean(b)) / sqrt(var(a)/n_a + var(b)/n_b)`; positive when `a` is larger.
    pub t: f64,
    /// Welch–Satterthwaite degrees of freedom.
    pub df: f64,
    /// Two-sided p-value `P(|T_df| >= |t|)`.
    pub p_two_sided: f64,
}

impl WelchTest {
    /// False when the test was undefined (a sample with n < 2, or non-finite input): then all
    /// three fields are NaN.
    pub fn is_defined(&self) -> bool {
        !self.p_two_sided.is_nan()
    }
}

/// Welch's t-test of `mean(a) == mean(b)` without assuming equal variances.
///
/// * `t = (m_a - m_b) / se`, `se^2 = s_a^2/n_a + s_b^2/n_b` (sample variances, n - 1).
/// * `df = se^4 / ((s_a^2/n_a)^2/(n_a-1) + (s_b^2/n_b)^2/(n_b-1))` (Welch–Satterthwaite),
///   evaluated as `1 / (r_a^2/(n_a-1) + r_b^2/(n_b-1))` with `r = share of se^2`, which cannot
///   underflow to 0/0 when the variances are tiny.
/// * `p = I_{df/(df+t^2)}(df/2, 1/2)`, the Student-t two-sided tail through the regularized
///   incomplete beta function.
///
/// Edge cases (scipy returns NaN or warns for several of these; the choices here are stated):
/// * `a.len() < 2` or `b.len() < 2`: undefined, every field NaN ([`WelchTest::is_defined`] is
///   false).
/// * NaN or infinity in the input: every field NaN.
/// * both samples constant (`se = 0`): `df = n_a + n_b - 2` by convention; equal means give
///   `t = 0, p = 1`, different means give `t = ±inf, p = 0` (the data leave no doubt).
/// * one sample constant: the formulas stay finite (`df = n - 1` of the other sample).
pub fn welch_t_test(a: &[f64], b: &[f64]) -> WelchTest {
    const UNDEFINED: WelchTest = WelchTest {
        t: f64::NAN,
        df: f64::NAN,
        p_two_sided: f64::NAN,
    };
    if a.len() < 2 || b.len() < 2 || !a.iter().chain(b).all(|x| x.is_finite()) {
        return UNDEFINED;
    }
    let (na, nb) = (a.len() as f64, b.len() as f64);
    let (ma, mb) = (mean(a), mean(b));
    // Squared standard errors of each mean.
    let (sa, sb) = (variance(a) / na, variance(b) / nb);
    let se2 = sa + sb;
    if se2 == 0.0 {
        let df = na + nb - 2.0;
        return if ma == mb {
            WelchTest {
                t: 0.0,
                df,
                p_two_sided: 1.0,
            }
        } else {
            WelchTest {
                t: if ma > mb {
                    f64::INFINITY
                } else {
                    f64::NEG_INFINITY
                },
                df,
                p_two_sided: 0.0,
            }
        };
    }
    let t = (ma - mb) / se2.sqrt();
    let (ra, rb) = (sa / se2, sb / se2);
    let df = 1.0 / (ra * ra / (na - 1.0) + rb * rb / (nb - 1.0));
    WelchTest {
        t,
        df,
        p_two_sided: student_t_two_sided_p(t, df),
    }
}

/// `num / se` with the zero-standard-error limit used by every t statistic here: when the
/// differences are constant (`se = 0`) the data leave no doubt, so `t = ±inf` by the sign of
/// `num`, and `t = 0` when `num` is 0 as well (nothing to explain). scipy returns NaN for
/// `0 / 0` and ±inf otherwise.
fn t_ratio(num: f64, se: f64) -> f64 {
    if se > 0.0 {
        num / se
    } else if num == 0.0 {
        0.0
    } else {
        num.signum() * f64::INFINITY
    }
}

/// Mean, sample sd and count of paired differences, or `None` when a t statistic is undefined
/// (fewer than two pairs, or a non-finite value).
fn difference_moments(d: &[f64]) -> Option<(f64, f64, f64)> {
    if d.len() < 2 || !d.iter().all(|v| v.is_finite()) {
        return None;
    }
    Some((mean(d), std_dev(d), d.len() as f64))
}

/// Result of a paired t-test of `mean(a - b) == 0`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PairedTTest {
    /// Number of pairs.
    pub n: usize,
    /// `mean(a_i - b_i)`; positive when `a` is larger. NaN for no pairs or non-finite input.
    pub mean_diff: f64,
    /// Sample standard deviation of the differences (n - 1 denominator). NaN below two pairs
    /// (no spread can be measured) or for non-finite input.
    pub sd_diff: f64,
    /// `mean_diff / (sd_diff / sqrt(n))`.
    pub t: f64,
    /// `n - 1`.
    pub df: f64,
    /// Two-sided p-value `P(|T_{n-1}| >= |t|)`.
    pub p_two_sided: f64,
}

impl PairedTTest {
    /// False when the test was undefined (fewer than two pairs, or non-finite input): then
    /// `t`, `df` and `p_two_sided` are NaN.
    pub fn is_defined(&self) -> bool {
        !self.p_two_sided.is_nan()
    }
}

/// Paired t-test (scipy's `ttest_rel(a, b)`): is the mean of `d_i = a_i - b_i` zero?
///
/// With `d̄` and `s_d` the mean and sample standard deviation of the `n` differences,
/// `t = d̄ / (s_d / sqrt(n))`. When the differences are independent draws from a normal
/// distribution with mean 0, `t` follows Student's t with `df = n - 1`, and
/// `p = P(|T_{n-1}| >= |t|)`. This is the one-sample t-test applied to `d`.
///
/// Edge cases (documented, never a panic):
/// * `a.len() != b.len()`: `Err(Error::Shape)` (pairs cannot be formed).
/// * fewer than two pairs: `t`, `df`, `p` and `sd_diff` NaN; `mean_diff` is the single
///   difference (NaN with no pairs).
/// * NaN or infinity in either sample: every field except `n` is NaN.
/// * constant differences (`s_d = 0`): `t = ±inf, p = 0` when they are nonzero, `t = 0, p = 1`
///   when they are all zero (identical samples); see the convention on [`welch_t_test`].
pub fn paired_t_test(a: &[f64], b: &[f64]) -> Result<PairedTTest> {
    let d = paired_differences("paired_t_test", a, b)?;
    let n = d.len();
    let Some((m, sd, nf)) = difference_moments(&d) else {
        let finite = d.iter().all(|v| v.is_finite());
        return Ok(PairedTTest {
            n,
            mean_diff: if finite { mean(&d) } else { f64::NAN },
            sd_diff: f64::NAN,
            t: f64::NAN,
            df: f64::NAN,
            p_two_sided: f64::NAN,
        });
    };
    let t = t_ratio(m, sd / nf.sqrt());
    let df = nf - 1.0;
    Ok(PairedTTest {
        n,
        mean_diff: m,
        sd_diff: sd,
        t,
        df,
        p_two_sided: student_t_two_sided_p(t, df),
    })
}

/// Result of a TOST (two one-sided tests) equivalence test on paired differences.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Tost {
    /// The equivalence margin `δ > 0`: differences within `(-δ, δ)` count as equivalent.
    pub margin: f64,
    /// `mean(a_i - b_i)`.
    pub mean_diff: f64,
    /// `n - 1`.
    pub df: f64,
    /// `(d̄ + δ) / se`, the statistic of the test of `H0: μ_d <= -δ` against `μ_d > -δ`.
    pub t_lower: f64,
    /// `P(T_{n-1} >= t_lower)`.
    pub p_lower: f64,
    /// `(d̄ - δ) / se`, the statistic of the test of `H0: μ_d >= δ` against `μ_d < δ`.
    pub t_upper: f64,
    /// `P(T_{n-1} <= t_upper)`.
    pub p_upper: f64,
    /// `max(p_lower, p_upper)`: equivalence at level α is shown when `p < α`.
    pub p: f64,
}

impl Tost {
    /// False when the test was undefined (fewer than two pairs, or non-finite input): then
    /// every field except `margin` is NaN.
    pub fn is_defined(&self) -> bool {
        !self.p.is_nan()
    }
}

/// TOST equivalence test (Schuirmann 1987) of paired differences against the margin `±δ`.
///
/// Equivalence is the alternative: `H0: |μ_d| >= δ` against `H1: -δ < μ_d < δ`. H0 is the
/// union of `μ_d <= -δ` and `μ_d >= δ`, so it is rejected at level α when *both* one-sided
/// t-tests reject at α (an intersection-union test, which needs no multiplicity correction):
/// * lower: `t_L = (d̄ + δ) / se`, `p_L = P(T_{n-1} >= t_L)` (scipy:
///   `ttest_1samp(d, -δ, alternative='greater')`);
/// * upper: `t_U = (d̄ - δ) / se`, `p_U = P(T_{n-1} <= t_U)` (scipy:
///   `ttest_1samp(d, δ, alternative='less')`);
/// * `p = max(p_L, p_U)`,
///
/// with `se = s_d / sqrt(n)`. Equivalently: the `1 - 2α` t confidence interval of `μ_d` lies
/// inside `(-δ, δ)`. A large p is *not* evidence of a difference; it means equivalence within
/// `δ` was not shown (too few pairs, too much spread, or a real difference).
///
/// Errors: `Err(Error::Shape)` for unequal lengths, `Err(Error::InvalidArgument)` unless
/// `margin` is positive and finite. Fewer than two pairs or non-finite input: every field but
/// `margin` NaN. Constant differences use the `t = ±inf` / `t = 0` limit of
/// [`paired_t_test`]: inside the margin `p = 0`, outside `p = 1`, exactly on it `p = 0.5`.
pub fn tost_paired(a: &[f64], b: &[f64], margin: f64) -> Result<Tost> {
    if !(margin > 0.0 && margin.is_finite()) {
        return Err(Error::invalid(
            "tost_paired",
            format!("the equivalence margin must be positive and finite, got {margin}"),
        ));
    }
    let d = paired_differences("tost_paired", a, b)?;
    let Some((m, sd, nf)) = difference_moments(&d) else {
        return Ok(Tost {
            margin,
            mean_diff: f64::NAN,
            df: f64::NAN,
            t_lower: f64::NAN,
            p_lower: f64::NAN,
            t_upper: f64::NAN,
            p_upper: f64::NAN,
            p: f64::NAN,
        });
    };
    let se = sd / nf.sqrt();
    let df = nf - 1.0;
    let t_lower = t_ratio(m + margin, se);
    let t_upper = t_ratio(m - margin, se);
    let p_lower = student_t_sf(t_lower, df);
    // P(T <= t_U) = P(T >= -t_U) by the symmetry of Student's t.
    let p_upper = student_t_sf(-t_upper, df);
    Ok(Tost {
        margin,
        mean_diff: m,
        df,
        t_lower,
        p_lower,
        t_upper,
        p_upper,
        p: p_lower.max(p_upper),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn welch_with_a_single_observation_is_undefined_not_a_panic() {
        let w = welch_t_test(&[1.0], &[1.0, 2.0, 3.0]);
        assert!(!w.is_defined());
        assert!(w.t.is_nan() && w.df.is_nan() && w.p_two_sided.is_nan());
        assert!(!welch_t_test(&[], &[]).is_defined());
        assert!(!welch_t_test(&[1.0, f64::NAN], &[1.0, 2.0]).is_defined());
    }

    #[test]
    fn welch_of_two_constant_samples_follows_the_documented_convention() {
        let same = welch_t_test(&[2.0, 2.0, 2.0], &[2.0, 2.0]);
        assert_eq!((same.t, same.df, same.p_two_sided), (0.0, 3.0, 1.0));
        let diff = welch_t_test(&[1.0, 1.0], &[2.0, 2.0, 2.0]);
        assert_eq!(
            (diff.t, diff.df, diff.p_two_sided),
            (f64::NEG_INFINITY, 3.0, 0.0)
        );
    }

    #[test]
    fn identical_constant_samples_are_not_significantly_different() {
        // sum([0.1; 3]) / 3 rounds to 0.10000000000000002; the mean must still be 0.1 exactly.
        assert_eq!(mean(&[0.1, 0.1, 0.1]), 0.1);
        assert_eq!(std_dev(&[0.1, 0.1, 0.1]), 0.0);
        let w = welch_t_test(&[0.1, 0.1, 0.1], &[0.1, 0.1]);
        assert_eq!((w.t, w.p_two_sided), (0.0, 1.0));
    }

    #[test]
    fn welch_is_antisymmetric_in_its_arguments() {
        let a = [1.0, 2.5, 3.0, 4.2];
        let b = [0.5, 0.7, 1.9];
        let (ab, ba) = (welch_t_test(&a, &b), welch_t_test(&b, &a));
        assert_eq!(ab.t, -ba.t);
        assert_eq!(ab.df, ba.df);
        assert_eq!(ab.p_two_sided, ba.p_two_sided);
    }

    #[test]
    fn paired_test_edge_cases_follow_the_documented_conventions() {
        assert!(matches!(
            paired_t_test(&[1.0, 2.0], &[1.0]),
            Err(Error::Shape { .. })
        ));
        let empty = paired_t_test(&[], &[]).unwrap();
        assert_eq!(empty.n, 0);
        assert!(empty.mean_diff.is_nan() && !empty.is_defined());
        let one = paired_t_test(&[3.0], &[1.0]).unwrap();
        assert_eq!(one.mean_diff, 2.0);
        assert!(one.sd_diff.is_nan() && one.df.is_nan() && !one.is_defined());
        let nan = paired_t_test(&[1.0, f64::NAN, 3.0], &[0.0, 1.0, 2.0]).unwrap();
        assert!(nan.mean_diff.is_nan() && nan.sd_diff.is_nan() && !nan.is_defined());
        let inf = paired_t_test(&[1.0, f64::INFINITY], &[0.0, 1.0]).unwrap();
        assert!(inf.mean_diff.is_nan() && !inf.is_defined());
        // Identical samples: no difference at all.
        let same = paired_t_test(&[0.1, 0.2, 0.3], &[0.1, 0.2, 0.3]).unwrap();
        assert_eq!((same.t, same.df, same.p_two_sided), (0.0, 2.0, 1.0));
        assert_eq!((same.mean_diff, same.sd_diff), (0.0, 0.0));
        // A constant nonzero shift: 1.5 - 0.5 etc. are exactly 1, so s_d = 0.
        let shift = paired_t_test(&[1.5, 2.5, 3.5], &[2.5, 3.5, 4.5]).unwrap();
        assert_eq!((shift.t, shift.p_two_sided), (f64::NEG_INFINITY, 0.0));
    }

    #[test]
    fn paired_test_is_antisymmetric_in_its_arguments() {
        let a = [93.1, 92.8, 93.4, 92.9, 93.0];
        let b = [92.9, 92.9, 93.1, 92.6, 93.05];
        let (ab, ba) = (
            paired_t_test(&a, &b).unwrap(),
            paired_t_test(&b, &a).unwrap(),
        );
        assert_eq!(ab.t, -ba.t);
        assert_eq!(ab.p_two_sided, ba.p_two_sided);
    }

    #[test]
    fn tost_rejects_bad_margins_and_handles_constant_differences() {
        for margin in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            assert!(matches!(
                tost_paired(&[1.0, 2.0], &[1.0, 2.0], margin),
                Err(Error::InvalidArgument { .. })
            ));
        }
        // Differences exactly 0.5 (binary fractions): inside ±1, outside ±0.25, on ±0.5.
        let (a, b) = ([1.5, 2.5, 3.5], [1.0, 2.0, 3.0]);
        assert_eq!(tost_paired(&a, &b, 1.0).unwrap().p, 0.0);
        assert_eq!(tost_paired(&a, &b, 0.25).unwrap().p, 1.0);
        let on = tost_paired(&a, &b, 0.5).unwrap();
        assert_eq!((on.p_lower, on.p_upper, on.p), (0.0, 0.5, 0.5));
        assert!(!tost_paired(&[1.0], &[2.0], 1.0).unwrap().is_defined());
        assert!(!tost_paired(&[1.0, f64::NAN], &[2.0, 1.0], 1.0)
            .unwrap()
            .is_defined());
    }
}
