#!/usr/bin/env python3
"""Golden values for the statistics in src/stats/, from independent references.

Prints every reference value that tests/stats.rs pastes (with all digits of repr()), together
with the library versions. Run:

    pip install scipy numpy statsmodels
    python3 benches/compare/stats_scipy.py

References, per statistic:
  paired t-test      scipy.stats.ttest_rel(a, b)
  Welch              scipy.stats.ttest_ind(a, b, equal_var=False)
  TOST               two scipy.stats.ttest_1samp(d, -+delta, alternative='greater'/'less')
  one-sided t tail   scipy.stats.t.sf(t, df)
  Holm               statsmodels.stats.multitest.multipletests(p, method='holm')[1]
                     (and a transparent hand computation, printed beside it)
  permutation p      exact enumeration of all n! pairings with itertools.permutations,
                     P(|r_pi| >= |r|) (r from scipy.stats.pearsonr of the values or of
                     scipy.stats.rankdata ranks); for n <= 6 also
                     scipy.stats.permutation_test(..., permutation_type='pairings',
                     n_resamples=np.inf, alternative='greater') with |r| as the statistic,
                     which enumerates (n!)^2 pairings and is infeasible above that
  bootstrap CI       a numpy percentile bootstrap with 10^6 resamples (and
                     scipy.stats.bootstrap(method='percentile') beside it): the Rust interval
                     (10,000 resamples, another RNG) cannot match bit for bit, so the test
                     compares within the Monte Carlo error, stated in the test.
"""

import itertools
import sys

import numpy as np
import scipy
import scipy.stats as st

try:
    import statsmodels
    from statsmodels.stats.multitest import multipletests
except ImportError:  # the hand computation below is then the only reference
    statsmodels = None

# ---- fixed inputs (the same literals are in tests/stats.rs) -----------------------------------

PAIRED = {
    # Test accuracies (%) of two arms over 8 matched seeds.
    "accuracy": (
        [93.1, 92.8, 93.4, 92.9, 93.0, 93.2, 92.7, 93.05],
        [92.9, 92.9, 93.1, 92.6, 93.05, 93.0, 92.75, 92.8],
    ),
    # Two pairs: df = 1.
    "tiny_n": ([1.0, 2.0], [0.5, 1.0]),
    # Negative mean difference, 10 pairs with a common seed effect much larger than the
    # difference (what pairing is for).
    "seed_effect": (
        [97.81, 96.02, 98.44, 95.13, 97.02, 96.55, 98.91, 95.87, 97.33, 96.68],
        [97.86, 96.10, 98.43, 95.22, 97.09, 96.58, 98.99, 95.90, 97.41, 96.70],
    ),
    # Nearly constant differences: a large t, a tiny p.
    "large_t": ([1.0, 2.0, 3.0, 4.0, 5.0], [0.9, 1.9001, 2.8999, 3.9, 4.90005]),
}

TOST = [
    # (case, margin)
    ("accuracy", 0.5),
    ("accuracy", 0.1),
    ("seed_effect", 0.1),
    ("seed_effect", 0.02),
    ("tiny_n", 2.0),
    ("tiny_n", 0.5),
]

T_SF = [(2.0, 3.0), (-1.5, 7.0), (0.3, 1.0), (4.0, 19.0), (-6.0, 4.5)]

HOLM = {
    "four": [0.01, 0.04, 0.03, 0.005],
    "ties_and_cap": [0.2, 0.5, 0.01, 0.9, 0.04, 0.04],
    "all_large": [0.6, 0.7],
    "twelve": None,  # filled below from a seeded generator
}

PERM = {
    # name: (x, y, statistic)
    "spearman_6_no_ties": (
        [0.91, 0.85, 0.78, 0.95, 0.60, 0.72],
        [0.12, 0.30, 0.25, 0.05, 0.70, 0.40],
        "spearman",
    ),
    "spearman_8_ties": (
        [0.8, 0.6, 0.6, 0.9, 0.7, 0.5, 0.9, 0.4],
        [93.0, 92.1, 92.5, 93.4, 92.5, 91.8, 92.9, 92.0],
        "spearman",
    ),
    "spearman_8_weak": (
        [0.1, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6],
        [5.0, 1.0, 7.0, 3.0, 8.0, 2.0, 6.0, 4.0],
        "spearman",
    ),
    "pearson_7": (
        [0.5, -1.2, 2.3, 0.1, -0.7, 1.9, 0.0],
        [0.3, -0.4, 1.1, 0.8, 0.2, 0.6, -0.9],
        "pearson",
    ),
    # n = 10 > 8: the Rust side uses Monte Carlo; the exact p (10! = 3,628,800 pairings) is
    # the value it must approach.
    "pearson_10_exact": (
        [0.3, 1.2, -0.5, 2.2, 0.9, 1.1, -1.3, 0.4, 0.8, 1.9],
        [0.1, 0.7, 0.2, 1.5, 0.3, 1.4, -0.9, 0.9, 0.2, 0.1],
        "pearson",
    ),
    "spearman_10_exact": (
        [0.3, 1.2, -0.5, 2.2, 0.9, 1.1, -1.3, 0.4, 0.8, 1.9],
        [0.1, 0.7, 0.2, 1.5, 0.3, 1.4, -0.9, 0.9, 0.25, 0.15],
        "spearman",
    ),
}

BOOTSTRAP = {
    "accuracy_diffs": None,  # the "accuracy" paired differences
    "skewed_20": [0.2, 0.1, 0.5, 0.3, 2.9, 0.4, 0.2, 0.8, 0.1, 1.7,
                  0.3, 0.6, 0.2, 0.9, 0.4, 3.8, 0.5, 0.3, 0.7, 0.2],
}


def r(name, value):
    """One line per golden value: name = repr (all digits)."""
    print(f"{name} = {float(value)!r}")


def holm_by_hand(p):
    """p~_(i) = min(1, max_{j<=i} (m - j + 1) p_(j)) in the input order."""
    p = np.asarray(p, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    out = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        out[i] = running
    return out


def abs_pearson(x, y, axis=-1):
    """|r| along the last axis (vectorized, as permutation_test batches pairings)."""
    return np.abs(st.pearsonr(x, y, axis=axis).statistic)


def signed_pearson(x, y, axis=-1):
    return st.pearsonr(x, y, axis=axis).statistic


def perm_data(x, y, kind):
    """Spearman's rho is Pearson's r of the average ranks (spearmanr's definition), and a
    re-pairing of y re-pairs its ranks, so the Spearman tests permute the ranks."""
    if kind == "spearman":
        return st.rankdata(x), st.rankdata(y)
    return np.asarray(x, float), np.asarray(y, float)


def exact_abs_perm_p(x, y, kind):
    """Independent check of permutation_test: enumerate all n! pairings with itertools."""
    x = np.asarray(x, float)
    y = np.asarray(y, float)
    if kind == "spearman":
        x, y = st.rankdata(x), st.rankdata(y)
    dx, dy = x - x.mean(), y - y.mean()
    obs = abs(dx @ dy)
    tol = 1e-12 * np.sqrt((dx @ dx) * (dy @ dy))
    count = total = 0
    perms = itertools.permutations(range(len(x)))
    while True:
        chunk = np.array(list(itertools.islice(perms, 500_000)), dtype=np.int64)
        if chunk.size == 0:
            break
        s = np.abs(dy[chunk] @ dx)
        count += int(np.sum(s >= obs - tol))
        total += len(chunk)
    return count / total


def percentile_bootstrap(d, resamples, level=0.95, seed=0):
    rng = np.random.default_rng(seed)
    d = np.asarray(d, float)
    n = len(d)
    means = np.empty(resamples)
    step = 100_000
    for s in range(0, resamples, step):
        k = min(step, resamples - s)
        means[s:s + k] = d[rng.integers(0, n, size=(k, n))].mean(axis=1)
    a = 1 - level
    return np.percentile(means, [100 * a / 2, 100 * (1 - a / 2)])


def main():
    print(f"# python {sys.version.split()[0]}, numpy {np.__version__}, scipy {scipy.__version__}, "
          f"statsmodels {statsmodels.__version__ if statsmodels else 'not installed'}")

    print("\n## paired t-test: scipy.stats.ttest_rel(a, b); mean/std(ddof=1) of a - b")
    for name, (a, b) in PAIRED.items():
        res = st.ttest_rel(a, b)
        d = np.subtract(a, b)
        r(f"paired.{name}.mean_diff", d.mean())
        r(f"paired.{name}.sd_diff", d.std(ddof=1))
        r(f"paired.{name}.t", res.statistic)
        r(f"paired.{name}.df", res.df)
        r(f"paired.{name}.p", res.pvalue)
        w = st.ttest_ind(a, b, equal_var=False)
        r(f"welch.{name}.t", w.statistic)
        r(f"welch.{name}.df", w.df)
        r(f"welch.{name}.p", w.pvalue)

    print("\n## TOST: ttest_1samp(d, -delta, alternative='greater'), ttest_1samp(d, delta, "
          "alternative='less')")
    for name, delta in TOST:
        a, b = PAIRED[name]
        d = np.subtract(a, b)
        lo = st.ttest_1samp(d, -delta, alternative="greater")
        hi = st.ttest_1samp(d, delta, alternative="less")
        tag = f"tost.{name}.{delta}"
        r(f"{tag}.t_lower", lo.statistic)
        r(f"{tag}.p_lower", lo.pvalue)
        r(f"{tag}.t_upper", hi.statistic)
        r(f"{tag}.p_upper", hi.pvalue)
        r(f"{tag}.p", max(lo.pvalue, hi.pvalue))

    print("\n## one-sided t tail: scipy.stats.t.sf(t, df)")
    for t, df in T_SF:
        r(f"t_sf({t}, {df})", st.t.sf(t, df))

    print("\n## Holm: statsmodels multipletests(p, method='holm')[1]; by hand beside it")
    HOLM["twelve"] = [float(f"{v:.6g}") for v in np.random.default_rng(12).uniform(0, 0.2, 12)]
    for name, p in HOLM.items():
        by_hand = holm_by_hand(p)
        print(f"holm.{name}.input = {p!r}")
        if statsmodels:
            ref = multipletests(p, method="holm")[1]
            assert np.allclose(ref, by_hand, rtol=1e-15, atol=0), (ref, by_hand)
            print(f"holm.{name}.statsmodels = {[float(v) for v in ref]!r}")
        print(f"holm.{name}.by_hand = {[float(v) for v in by_hand]!r}")

    print("\n## permutation p: itertools enumeration of all n! pairings, P(|r_pi| >= |r|); "
          "for n <= 6 permutation_test(|r|, pairings, n_resamples=inf, alternative='greater')")
    for name, (x, y, kind) in PERM.items():
        stat = st.spearmanr(x, y).statistic if kind == "spearman" else st.pearsonr(x, y).statistic
        r(f"perm.{name}.r", stat)
        px, py = perm_data(x, y, kind)
        assert abs(signed_pearson(px, py) - stat) < 1e-14
        r(f"perm.{name}.p_enumerated", exact_abs_perm_p(x, y, kind))
        if len(x) <= 6:
            # permutation_test permutes every sample, (n!)^2 pairings: only small n is feasible.
            res = st.permutation_test((px, py), abs_pearson, permutation_type="pairings",
                                      n_resamples=np.inf, alternative="greater",
                                      vectorized=True, batch=100_000)
            r(f"perm.{name}.p_scipy", res.pvalue)
            two = st.permutation_test((px, py), signed_pearson, permutation_type="pairings",
                                      n_resamples=np.inf, alternative="two-sided",
                                      vectorized=True, batch=100_000)
            r(f"perm.{name}.p_scipy_two_sided_2min (other definition, for comparison)",
              two.pvalue)

    print("\n## percentile bootstrap of the mean, 95%: numpy, 10^6 resamples, default_rng(0); "
          "scipy.stats.bootstrap(method='percentile') beside it")
    BOOTSTRAP["accuracy_diffs"] = list(np.subtract(*PAIRED["accuracy"]))
    for name, d in BOOTSTRAP.items():
        lo, hi = percentile_bootstrap(d, 1_000_000)
        d = np.asarray(d, float)
        r(f"boot.{name}.lo", lo)
        r(f"boot.{name}.hi", hi)
        # The bootstrap standard error of the mean: plug-in sd (ddof=0) / sqrt(n).
        r(f"boot.{name}.se_plugin", d.std(ddof=0) / np.sqrt(len(d)))
        sp = st.bootstrap((d,), np.mean, method="percentile", n_resamples=200_000,
                          rng=np.random.default_rng(1), vectorized=True, batch=50_000)
        r(f"boot.{name}.scipy_lo", sp.confidence_interval.low)
        r(f"boot.{name}.scipy_hi", sp.confidence_interval.high)


if __name__ == "__main__":
    main()
