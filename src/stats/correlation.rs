//! Pearson and Spearman correlation, and their permutation tests.
//!
//! ## Permutation p-values
//! Under the null hypothesis that `x` and `y` are independent (exchangeable pairings), every
//! re-pairing `(x_i, y_π(i))` of the observed values is equally likely. The two-sided p-value
//! is the share of pairings whose correlation is at least as extreme as the observed one,
//! `P(|r_π| >= |r|)`. No distributional assumption is made, and with few pairs (the
//! best-ENN study has 8) it is the honest test: the t approximation behind
//! `scipy.stats.spearmanr`'s p is poor there.
//!
//! * `n <= 8` ([`EXACT_PERMUTATION_MAX_N`], `n! <= 40,320`): all `n!` pairings are enumerated
//!   (Heap's algorithm), `p = #{π : |r_π| >= |r|} / n!`. The identity is one of them, so
//!   `p >= 1/n!`: with 4 pairs no two-sided p is below `1/12` (24 pairings, of which the
//!   identity and its reversal reach `|r| = 1`).
//! * `n > 8`: `B` uniformly random pairings drawn with the caller's seeded RNG (Monte Carlo),
//!   `p = (1 + #{b : |r_b| >= |r|}) / (B + 1)`. The `+1` counts the observed pairing as one of
//!   the resamples: it makes `p` a valid p-value (`P(p <= α) <= α` under the null, for any
//!   `B`) rather than an estimate that can be 0 (Phipson & Smyth 2010; scipy's
//!   `permutation_test` does the same).
//!
//! Only the cross term of `r` changes between pairings: with centered `dx, dy`,
//! `r_π = Σ dx_i dy_π(i) / sqrt(Σ dx² Σ dy²)` and the denominator is fixed, so the tests
//! compare `|Σ dx_i dy_π(i)|` with the observed value. Values within `1e-12 · sqrt(Σ dx² Σ dy²)`
//! of it (a relative 1e-12 on `r`, far above the rounding of a sum of a few hundred products)
//! count as "at least as extreme": pairings that give the same `r` in exact arithmetic
//! (reversals, ties) are not lost to rounding. scipy's `permutation_test` uses a relative
//! 1e-14 for the same purpose.
//!
//! scipy's `alternative='two-sided'` is `2 min(P(r_π <= r), P(r_π >= r))` instead; the two
//! agree when the null distribution is symmetric (Spearman without ties) and can differ
//! otherwise. The reference values in `tests/stats.rs` use `|r|` as the statistic with
//! `alternative='greater'`, which is the definition here.

use super::{check_paired, mean};
use crate::error::{Error, Result};
use rand::seq::SliceRandom;
use rand::Rng;

/// Pearson's product-moment correlation `cov(x, y) / (sd(x) sd(y))`, in [-1, 1].
///
/// `Err(Error::Shape)` when the lengths differ. NaN when undefined: n < 2, a constant series
/// (zero variance), or NaN/infinity in the input.
pub fn pearson(x: &[f64], y: &[f64]) -> Result<f64> {
    check_paired("pearson", x, y)?;
    Ok(pearson_unchecked(x, y))
}

fn pearson_unchecked(x: &[f64], y: &[f64]) -> f64 {
    if x.len() < 2 || !x.iter().chain(y).all(|v| v.is_finite()) {
        return f64::NAN;
    }
    let (mx, my) = (mean(x), mean(y));
    let (mut sxy, mut sxx, mut syy) = (0.0, 0.0, 0.0);
    for (&a, &b) in x.iter().zip(y) {
        let (dx, dy) = (a - mx, b - my);
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if sxx == 0.0 || syy == 0.0 {
        return f64::NAN;
    }
    // One sqrt of the product is exact more often (sxx == syy gives r = ±1 exactly); fall back to
    // two square roots when the product overflows or underflows.
    let prod = sxx * syy;
    let denom = if prod.is_finite() && prod > 0.0 {
        prod.sqrt()
    } else {
        sxx.sqrt() * syy.sqrt()
    };
    // Rounding can push |r| a hair past 1 for perfectly linear data.
    (sxy / denom).clamp(-1.0, 1.0)
}

/// Spearman's rank correlation: Pearson's r of the ranks, ties given their average rank (the
/// definition scipy.stats.spearmanr uses).
///
/// `Err(Error::Shape)` when the lengths differ. NaN when undefined: n < 2, all values of one
/// series tied, or NaN in the input (infinities rank normally).
pub fn spearman(x: &[f64], y: &[f64]) -> Result<f64> {
    check_paired("spearman", x, y)?;
    if x.iter().chain(y).any(|v| v.is_nan()) {
        return Ok(f64::NAN);
    }
    Ok(pearson_unchecked(&average_ranks(x), &average_ranks(y)))
}

/// 1-based ranks; a run of `k` tied values at sorted positions `i..i+k` all get the mean rank
/// `i + (k + 1) / 2`. NaN-free input expected (callers check).
pub fn average_ranks(xs: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..xs.len()).collect();
    order.sort_by(|&i, &j| xs[i].total_cmp(&xs[j]));
    let mut ranks = vec![0.0; xs.len()];
    let mut start = 0;
    while start < order.len() {
        let mut end = start + 1;
        // `==` rather than total_cmp so that -0.0 and 0.0 tie.
        while end < order.len() && xs[order[end]] == xs[order[start]] {
            end += 1;
        }
        // Positions start..end (0-based) hold ranks start+1..=end; their mean:
        let avg = (start + 1 + end) as f64 / 2.0;
        for &i in &order[start..end] {
            ranks[i] = avg;
        }
        start = end;
    }
    ranks
}

/// Largest `n` whose permutation p-value is computed exactly (`8! = 40,320` pairings); above
/// it the tests draw random pairings.
pub const EXACT_PERMUTATION_MAX_N: usize = 8;

/// Result of a permutation test of a correlation.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PermutationTest {
    /// The observed correlation ([`pearson`] or [`spearman`]).
    pub statistic: f64,
    /// Two-sided p-value `P(|r_π| >= |r|)` (exact, or Monte Carlo with the `+1` correction).
    pub p_two_sided: f64,
    /// Pairings evaluated: `n!` when exact, the number of random resamples otherwise; 0 when
    /// the test was undefined.
    pub permutations: u64,
    /// True when every pairing was enumerated (`n <= EXACT_PERMUTATION_MAX_N`).
    pub exact: bool,
}

impl PermutationTest {
    /// False when the correlation is undefined (n < 2, a constant series, non-finite input):
    /// then `statistic` and `p_two_sided` are NaN.
    pub fn is_defined(&self) -> bool {
        !self.p_two_sided.is_nan()
    }
}

/// Permutation test of Pearson's r (see the module docs for the method).
///
/// `resamples` random pairings are drawn from `rng` when `n > EXACT_PERMUTATION_MAX_N`; for
/// smaller `n` the test is exact, `resamples` is ignored and `rng` is not touched.
/// `Err(Error::Shape)` for unequal lengths; `Err(Error::InvalidArgument)` when `resamples` is 0
/// and the test would need it. NaN statistic and p (not an error) when `r` is undefined: n < 2,
/// a constant series, NaN or infinity.
pub fn pearson_permutation_test<R: Rng + ?Sized>(
    x: &[f64],
    y: &[f64],
    resamples: usize,
    rng: &mut R,
) -> Result<PermutationTest> {
    check_paired("pearson_permutation_test", x, y)?;
    let r = pearson_unchecked(x, y);
    permutation_test(x, y, r, resamples, rng)
}

/// Permutation test of Spearman's rank correlation: the Pearson test on the average ranks
/// (ties keep their average rank in every pairing). Arguments, errors and undefined cases as
/// for [`pearson_permutation_test`], except that infinities rank normally (as in
/// [`spearman`]) and only NaN makes the statistic undefined.
pub fn spearman_permutation_test<R: Rng + ?Sized>(
    x: &[f64],
    y: &[f64],
    resamples: usize,
    rng: &mut R,
) -> Result<PermutationTest> {
    check_paired("spearman_permutation_test", x, y)?;
    if x.iter().chain(y).any(|v| v.is_nan()) {
        return permutation_test(x, y, f64::NAN, resamples, rng);
    }
    let (rx, ry) = (average_ranks(x), average_ranks(y));
    let r = pearson_unchecked(&rx, &ry);
    permutation_test(&rx, &ry, r, resamples, rng)
}

/// Shared core: `r` is the observed statistic computed from `x, y` (NaN when undefined).
fn permutation_test<R: Rng + ?Sized>(
    x: &[f64],
    y: &[f64],
    r: f64,
    resamples: usize,
    rng: &mut R,
) -> Result<PermutationTest> {
    let n = x.len();
    let exact = n <= EXACT_PERMUTATION_MAX_N;
    if !exact && resamples == 0 {
        return Err(Error::invalid(
            "permutation test",
            format!("{n} pairs need at least one random resample (got 0)"),
        ));
    }
    if r.is_nan() {
        return Ok(PermutationTest {
            statistic: f64::NAN,
            p_two_sided: f64::NAN,
            permutations: 0,
            exact,
        });
    }
    // r is defined, so n >= 2, everything is finite and neither series is constant.
    let (mx, my) = (mean(x), mean(y));
    let dx: Vec<f64> = x.iter().map(|&v| v - mx).collect();
    let mut dy: Vec<f64> = y.iter().map(|&v| v - my).collect();
    let norm =
        dx.iter().map(|v| v * v).sum::<f64>().sqrt() * dy.iter().map(|v| v * v).sum::<f64>().sqrt();
    let cross = |dy: &[f64]| dx.iter().zip(dy).map(|(a, b)| a * b).sum::<f64>().abs();
    // |cross| >= threshold <=> |r_π| >= |r| (up to the documented 1e-12 relative tie band).
    let threshold = cross(&dy) - 1e-12 * norm;
    let (extreme, permutations, p) = if exact {
        let mut extreme = 0u64;
        let total = heap_permutations(&mut dy, |perm| {
            if cross(perm) >= threshold {
                extreme += 1;
            }
        });
        (extreme, total, extreme as f64 / total as f64)
    } else {
        let mut extreme = 0u64;
        for _ in 0..resamples {
            // Shuffling the previous pairing again is still a uniform draw (Fisher–Yates).
            dy.shuffle(rng);
            if cross(&dy) >= threshold {
                extreme += 1;
            }
        }
        let b = resamples as u64;
        (extreme, b, (extreme + 1) as f64 / (b + 1) as f64)
    };
    debug_assert!(extreme <= permutations);
    Ok(PermutationTest {
        statistic: r,
        p_two_sided: p,
        permutations,
        exact,
    })
}

/// Calls `visit` on every permutation of `v` (in place; `v` starts as the identity and each
/// call sees the next one of Heap's sequence, which changes one swap at a time). Returns the
/// number of permutations visited, `n!` (1 for `n <= 1`). Iterative form, no recursion.
fn heap_permutations(v: &mut [f64], mut visit: impl FnMut(&[f64])) -> u64 {
    let n = v.len();
    let mut count = 1;
    visit(v);
    // c[i] counts the swaps done at level i (the iterative encoding of the recursion stack).
    let mut c = vec![0usize; n];
    let mut i = 1;
    while i < n {
        if c[i] < i {
            if i % 2 == 0 {
                v.swap(0, i);
            } else {
                v.swap(c[i], i);
            }
            visit(v);
            count += 1;
            c[i] += 1;
            i = 1;
        } else {
            c[i] = 0;
            i += 1;
        }
    }
    count
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn average_ranks_share_ties() {
        assert_eq!(
            average_ranks(&[10.0, 20.0, 10.0, 30.0, 20.0, 20.0]),
            vec![1.5, 4.0, 1.5, 6.0, 4.0, 4.0]
        );
        assert_eq!(average_ranks(&[]), Vec::<f64>::new());
    }

    #[test]
    fn correlations_reject_mismatched_lengths_and_are_nan_when_undefined() {
        assert!(matches!(
            spearman(&[1.0, 2.0], &[1.0]),
            Err(Error::Shape { .. })
        ));
        assert!(matches!(pearson(&[1.0], &[]), Err(Error::Shape { .. })));
        assert!(pearson(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0])
            .unwrap()
            .is_nan());
        assert!(spearman(&[1.0], &[2.0]).unwrap().is_nan());
        assert!(spearman(&[1.0, f64::NAN], &[2.0, 3.0]).unwrap().is_nan());
        // Perfectly linear: r = 1 up to the rounding of sqrt(sxx) * sqrt(syy) (a few ulps).
        assert!((pearson(&[1.0, 2.0, 3.0], &[2.0, 4.0, 6.0]).unwrap() - 1.0).abs() < 1e-15);
        assert_eq!(
            spearman(&[1.0, 2.0, 3.0], &[9.0, 4.0, f64::NEG_INFINITY]).unwrap(),
            -1.0
        );
    }

    #[test]
    fn heap_visits_every_permutation_once() {
        for n in 0..=6usize {
            let mut v: Vec<f64> = (0..n).map(|i| i as f64).collect();
            let mut seen = std::collections::BTreeSet::new();
            let total = heap_permutations(&mut v, |p| {
                seen.insert(p.iter().map(|&x| x as u8).collect::<Vec<u8>>());
            });
            let factorial: u64 = (1..=n as u64).product();
            assert_eq!(total, factorial, "n={n}");
            assert_eq!(
                seen.len() as u64,
                factorial,
                "n={n}: a permutation repeated"
            );
        }
    }

    #[test]
    fn permutation_tests_edge_cases() {
        let mut rng = StdRng::seed_from_u64(1);
        // Two pairs: both pairings give |r| = 1, so p = 1.
        let two = pearson_permutation_test(&[1.0, 2.0], &[5.0, 3.0], 0, &mut rng).unwrap();
        assert_eq!(
            (two.p_two_sided, two.permutations, two.exact),
            (1.0, 2, true)
        );
        // Undefined statistic: NaN, not an error, no pairings evaluated.
        let flat = spearman_permutation_test(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0], 0, &mut rng);
        let flat = flat.unwrap();
        assert!(flat.statistic.is_nan() && !flat.is_defined() && flat.permutations == 0);
        let nan = pearson_permutation_test(&[1.0, f64::NAN], &[1.0, 2.0], 0, &mut rng).unwrap();
        assert!(!nan.is_defined());
        assert!(!pearson_permutation_test(&[], &[], 0, &mut rng)
            .unwrap()
            .is_defined());
        assert!(matches!(
            spearman_permutation_test(&[1.0], &[1.0, 2.0], 10, &mut rng),
            Err(Error::Shape { .. })
        ));
        // Nine pairs need resamples.
        let x: Vec<f64> = (0..9).map(f64::from).collect();
        assert!(matches!(
            pearson_permutation_test(&x, &x, 0, &mut rng),
            Err(Error::InvalidArgument { .. })
        ));
    }

    #[test]
    fn monte_carlo_p_is_never_below_one_over_resamples_plus_one() {
        // A perfect rank correlation over 30 pairs: only the identity and the reversal reach
        // |r| = 1 (probability 2/30!, i.e. never drawn), so p = 1/(B+1) exactly.
        let x: Vec<f64> = (0..30).map(|i| (i as f64).powi(3)).collect();
        let y: Vec<f64> = (0..30).map(f64::from).collect();
        let mut rng = StdRng::seed_from_u64(7);
        let t = spearman_permutation_test(&x, &y, 999, &mut rng).unwrap();
        assert_eq!((t.statistic, t.p_two_sided), (1.0, 1.0 / 1000.0));
        assert_eq!((t.permutations, t.exact), (999, false));
    }

    #[test]
    fn monte_carlo_permutation_test_is_seeded() {
        let x = [0.3, 1.2, -0.5, 2.2, 0.9, 1.1, -1.3, 0.4, 0.8, 1.9, -0.2];
        let y = [0.1, 0.7, 0.2, 1.5, 0.3, 1.4, -0.9, 0.9, 0.2, 0.8, 0.5];
        let run = |seed| {
            let mut rng = StdRng::seed_from_u64(seed);
            pearson_permutation_test(&x, &y, 2000, &mut rng)
                .unwrap()
                .p_two_sided
        };
        assert_eq!(run(3), run(3));
        // Different seeds give different Monte Carlo estimates (counts out of 2000 differ).
        assert_ne!(run(3), run(4));
    }
}
