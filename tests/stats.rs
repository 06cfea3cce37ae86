//! The statistics (src/stats/) against an independent reference.
//!
//! Golden values: printed by `python3 benches/compare/stats_scipy.py` (Python 3.11.7,
//! numpy 2.4.6, scipy 1.17.1, statsmodels 0.15.0; the script names every call and holds the
//! same input literals) and pasted with all printed digits. Each group below names the call.
//! The first three tests (Welch, the t tail, correlations) predate the script: their values
//! come from the scipy 1.17.1 calls named in their comments.
//!
//! The bootstrap and the Monte Carlo permutation tests draw from our seeded RNG, which numpy
//! cannot reproduce; they are checked against a large-sample reference within the stated Monte
//! Carlo error, and by their properties (coverage, width against n, determinism).

mod common;

use common::assert_rel;
use grad_instructor::stats::{
    bootstrap_mean_ci, holm, mean, paired_comparison, paired_summary, paired_t_test, pearson,
    pearson_permutation_test, regularized_incomplete_beta, spearman, spearman_permutation_test,
    std_dev, student_t_sf, student_t_two_sided_p, tost_paired, welch_t_test, DEFAULT_LEVEL,
    DEFAULT_RESAMPLES,
};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

// ---------------------------------------------------------------------------------------------
// Welch, Student's t tail, incomplete beta, correlations (moved from tests/report.rs)
//
// Provenance: scipy 1.17.1 / numpy on Python 3.11, computed with
//   scipy.stats.ttest_ind(a, b, equal_var=False)  -> statistic, pvalue, df
//   scipy.stats.spearmanr(x, y).statistic, scipy.stats.pearsonr(x, y).statistic
//   2 * scipy.stats.t.sf(t, df), scipy.special.betainc(a, b, x)
// and pasted with all printed digits.

// Relative tolerance for the p-values: the continued fraction stops at 1e-15 relative change and
// ln_gamma is good to ~1e-15, but the front factor exp(ln ...) multiplies the error of a log of
// magnitude up to ~25 here; 1e-11 leaves two orders of margin. t and df are a handful of
// arithmetic operations: 1e-12.
const P_RTOL: f64 = 1e-11;
const T_RTOL: f64 = 1e-12;

#[test]
fn welch_matches_scipy_ttest_ind_unequal_var() {
    #[allow(clippy::type_complexity)]
    let cases: [(&str, &[f64], &[f64], f64, f64, f64); 5] = [
        (
            "accuracy",
            &[93.1, 92.8, 93.4, 92.9, 93.0],
            &[92.5, 92.7, 92.4, 92.9, 92.6, 92.3],
            3.4915687011947565,
            8.403908714738167,
            0.007573942154660299,
        ),
        (
            "tiny_n",
            &[1.0, 2.0],
            &[3.0, 5.0],
            -2.23606797749979,
            1.4705882352941178,
            0.19872738893452602,
        ),
        (
            "far_apart",
            &[10.0, 10.1, 9.9, 10.05, 9.95, 10.02, 9.98],
            &[11.0, 11.2, 10.9, 11.1, 10.95],
            -17.374755072263323,
            5.703451796583551,
            3.7088024865204737e-06,
        ),
        (
            "overlap",
            &[0.5, -1.2, 2.3, 0.1, -0.7, 1.9, 0.0, 0.4],
            &[0.3, 1.1, -0.2, 0.8, 2.5, -1.5],
            -0.1268358188326526,
            10.122960474356013,
            0.901554382243979,
        ),
        (
            "one_constant",
            &[2.0, 2.0, 2.0],
            &[1.0, 2.0, 4.0, 3.5],
            -0.9078412990032037,
            3.0,
            0.4308904624868721,
        ),
    ];
    for (name, a, b, t, df, p) in cases {
        let w = welch_t_test(a, b);
        assert_rel(w.t, t, T_RTOL, &format!("{name} t"));
        assert_rel(w.df, df, T_RTOL, &format!("{name} df"));
        assert_rel(w.p_two_sided, p, P_RTOL, &format!("{name} p"));
    }
}

#[test]
fn student_t_tail_and_incomplete_beta_match_scipy() {
    // (t, df, 2 * scipy.stats.t.sf(t, df))
    for (t, df, p) in [
        (2.0, 3.0, 0.13932596855884305),
        (0.5, 1.0, 0.7048327646991335),
        (10.0, 2.5, 0.0044414957673074235),
        (1.96, 1000.0, 0.050273184955748736),
        (40.0, 7.0, 1.5902179984850364e-09),
        // Fractional df below 1, and tiny t (needs 1 - x passed separately to keep its digits).
        (0.01, 0.5, 0.9946067436361047),
        (3.0, 0.3, 0.5013376896876194),
        (1e-8, 10.0, 0.9999999922178323),
    ] {
        assert_rel(
            student_t_two_sided_p(t, df),
            p,
            P_RTOL,
            &format!("t={t} df={df}"),
        );
        assert_rel(student_t_two_sided_p(-t, df), p, P_RTOL, "symmetric in t");
    }
    // Large df: the continued fraction is ill-conditioned as x = df/(df+t^2) -> 1 (documented
    // on student_t_two_sided_p: 6e-13 at df = 1e4, 4e-11 at df = 1e6), hence 1e-10 here.
    for (t, df, p) in [
        (2.0, 1e6, 0.04550053385131924),
        (5.0, 50000.0, 5.752385056941256e-07),
    ] {
        assert_rel(
            student_t_two_sided_p(t, df),
            p,
            1e-10,
            &format!("t={t} df={df}"),
        );
    }
    // (a, b, x, scipy.special.betainc(a, b, x))
    for (a, b, x, i) in [
        (0.5, 0.5, 0.3, 0.36901011956554536),
        (2.0, 3.0, 0.4, 0.5247999999999999),
        (10.0, 0.5, 0.95, 0.31715157546554495),
        (100.0, 0.5, 0.99, 0.1567758654244408),
    ] {
        assert_rel(
            regularized_incomplete_beta(a, b, x),
            i,
            P_RTOL,
            &format!("I_{x}({a}, {b})"),
        );
    }
}

#[test]
fn spearman_and_pearson_match_scipy() {
    let x = [1.0, 2.0, 2.0, 3.0, 4.0, 5.0, 5.0, 5.0, 6.0, 7.0];
    let y = [2.0, 1.0, 4.0, 3.0, 3.0, 6.0, 5.0, 7.0, 9.0, 8.0];
    // Ties in both series: average ranks.
    assert_rel(
        spearman(&x, &y).unwrap(),
        0.9013032569427505,
        T_RTOL,
        "spearman ties",
    );
    assert_rel(
        pearson(&x, &y).unwrap(),
        0.8816898482636972,
        T_RTOL,
        "pearson ties",
    );
    let x2 = [0.91, 0.85, 0.78, 0.95, 0.60, 0.72];
    let y2 = [0.12, 0.30, 0.25, 0.05, 0.70, 0.40];
    assert_rel(
        spearman(&x2, &y2).unwrap(),
        -0.942857142857143,
        T_RTOL,
        "spearman",
    );
    assert_rel(
        pearson(&x2, &y2).unwrap(),
        -0.9638340056169773,
        T_RTOL,
        "pearson",
    );
    // numpy: mean 93.03999999999999, std(ddof=1) 0.23021728866442848.
    let acc = [93.1, 92.8, 93.4, 92.9, 93.0];
    assert_rel(mean(&acc), 93.03999999999999, T_RTOL, "mean");
    assert_rel(std_dev(&acc), 0.23021728866442848, T_RTOL, "std");
}

// ---------------------------------------------------------------------------------------------
// Paired t-test, TOST, one-sided tail, Holm, permutation p-values (benches/compare/stats_scipy.py)

/// The script's `PAIRED` inputs: (name, a, b).
const ACCURACY: (&[f64], &[f64]) = (
    &[93.1, 92.8, 93.4, 92.9, 93.0, 93.2, 92.7, 93.05],
    &[92.9, 92.9, 93.1, 92.6, 93.05, 93.0, 92.75, 92.8],
);
const TINY_N: (&[f64], &[f64]) = (&[1.0, 2.0], &[0.5, 1.0]);
const SEED_EFFECT: (&[f64], &[f64]) = (
    &[
        97.81, 96.02, 98.44, 95.13, 97.02, 96.55, 98.91, 95.87, 97.33, 96.68,
    ],
    &[
        97.86, 96.10, 98.43, 95.22, 97.09, 96.58, 98.99, 95.90, 97.41, 96.70,
    ],
);
const LARGE_T: (&[f64], &[f64]) = (
    &[1.0, 2.0, 3.0, 4.0, 5.0],
    &[0.9, 1.9001, 2.8999, 3.9, 4.90005],
);

#[test]
fn paired_t_test_matches_scipy_ttest_rel() {
    // (name, inputs, mean(d), std(d, ddof=1), ttest_rel: statistic, df, pvalue)
    #[allow(clippy::type_complexity)]
    let cases: [(&str, (&[f64], &[f64]), [f64; 5]); 4] = [
        (
            "accuracy",
            ACCURACY,
            [
                0.13125000000000142,
                0.16889874396894405,
                2.197950389679635,
                7.0,
                0.06392412293886705,
            ],
        ),
        (
            "tiny_n",
            TINY_N,
            [0.75, 0.3535533905932738, 3.0, 1.0, 0.20483276469913345],
        ),
        (
            "seed_effect",
            SEED_EFFECT,
            [
                -0.052000000000001025,
                0.03326659986633119,
                -4.943049154091205,
                9.0,
                0.0007988870212235231,
            ],
        ),
        (
            "large_t",
            LARGE_T,
            [
                0.09998999999999995,
                7.416198487090729e-05,
                3014.811934435063,
                4.0,
                7.262899398933466e-14,
            ],
        ),
    ];
    for (name, (a, b), [m, sd, t, df, p]) in cases {
        let r = paired_t_test(a, b).unwrap();
        assert_eq!(r.n, a.len());
        // The differences are the same f64 subtractions in both; the mean and sd of <= 10 of
        // them differ only by summation order (a few ulps), hence T_RTOL.
        assert_rel(r.mean_diff, m, T_RTOL, &format!("{name} mean_diff"));
        assert_rel(r.sd_diff, sd, T_RTOL, &format!("{name} sd_diff"));
        assert_rel(r.t, t, T_RTOL, &format!("{name} t"));
        assert_eq!(r.df, df, "{name} df");
        assert_rel(r.p_two_sided, p, P_RTOL, &format!("{name} p"));
    }
}

#[test]
fn pairing_reveals_what_welch_hides_on_the_same_data() {
    // scipy.stats.ttest_ind(a, b, equal_var=False) on the seed_effect inputs: a seed effect of
    // ~1 point swamps a consistent -0.05 difference (paired p = 0.0008 above).
    let w = welch_t_test(SEED_EFFECT.0, SEED_EFFECT.1);
    assert_rel(w.t, -0.09888441630240868, T_RTOL, "welch t");
    assert_rel(w.df, 17.99932261825629, T_RTOL, "welch df");
    assert_rel(w.p_two_sided, 0.9223229968165024, P_RTOL, "welch p");
    let w = welch_t_test(ACCURACY.0, ACCURACY.1);
    assert_rel(w.t, 1.332350605831701, T_RTOL, "welch t");
    assert_rel(w.df, 12.934957511513462, T_RTOL, "welch df");
    assert_rel(w.p_two_sided, 0.20574264836357836, P_RTOL, "welch p");
}

#[test]
fn tost_matches_two_one_sided_scipy_ttest_1samp() {
    // (inputs, margin δ, [t_L, p_L, t_U, p_U, p]) from
    //   ttest_1samp(d, -δ, alternative='greater') -> t_L, p_L
    //   ttest_1samp(d, +δ, alternative='less')    -> t_U, p_U,   p = max(p_L, p_U)
    #[allow(clippy::type_complexity)]
    let cases: [(&str, (&[f64], &[f64]), f64, [f64; 5]); 6] = [
        (
            "accuracy",
            ACCURACY,
            0.5,
            [
                10.571094731316249,
                7.4090636913175235e-06,
                -6.175193951956979,
                0.0002280787360075349,
                0.0002280787360075349,
            ],
        ),
        (
            "accuracy",
            ACCURACY,
            0.1,
            [
                3.8725792580069576,
                0.00305564020755732,
                0.523321521352312,
                0.6915484869942115,
                0.6915484869942115,
            ],
        ),
        (
            "seed_effect",
            SEED_EFFECT,
            0.1,
            [
                4.56281460377631,
                0.0006803927592659297,
                -14.448912911958718,
                7.803981044759308e-08,
                0.0006803927592659297,
            ],
        ),
        (
            "seed_effect",
            SEED_EFFECT,
            0.02,
            [
                -3.041876402517702,
                0.9930122999526874,
                -6.844221905664707,
                3.7609664876902454e-05,
                0.9930122999526874,
            ],
        ),
        (
            "tiny_n",
            TINY_N,
            2.0,
            [
                11.0,
                0.028857938376304477,
                -5.0,
                0.0628329581890012,
                0.0628329581890012,
            ],
        ),
        (
            "tiny_n",
            TINY_N,
            0.5,
            [5.0, 0.0628329581890012, 1.0, 0.75, 0.75],
        ),
    ];
    for (name, (a, b), margin, [tl, pl, tu, pu, p]) in cases {
        let r = tost_paired(a, b, margin).unwrap();
        let what = format!("{name} δ={margin}");
        assert_eq!((r.margin, r.df), (margin, (a.len() - 1) as f64), "{what}");
        assert_rel(r.t_lower, tl, T_RTOL, &format!("{what} t_lower"));
        assert_rel(r.p_lower, pl, P_RTOL, &format!("{what} p_lower"));
        assert_rel(r.t_upper, tu, T_RTOL, &format!("{what} t_upper"));
        assert_rel(r.p_upper, pu, P_RTOL, &format!("{what} p_upper"));
        assert_rel(r.p, p, P_RTOL, &format!("{what} p"));
    }
}

#[test]
fn one_sided_t_tail_matches_scipy_t_sf() {
    // (t, df, scipy.stats.t.sf(t, df))
    for (t, df, p) in [
        (2.0, 3.0, 0.06966298427942152),
        (-1.5, 7.0, 0.911350756505015),
        (0.3, 1.0, 0.4072264209222577),
        (4.0, 19.0, 0.0003830961686143225),
        (-6.0, 4.5, 0.9986792620972242),
    ] {
        assert_rel(student_t_sf(t, df), p, P_RTOL, &format!("t={t} df={df}"));
    }
}

#[test]
fn holm_matches_statsmodels_multipletests() {
    // (input, statsmodels.stats.multitest.multipletests(p, method='holm')[1]); the script
    // checks the same values against a hand computation of min(1, max_{j<=i} (m-j+1) p_(j)).
    #[allow(clippy::type_complexity)]
    let cases: [(&[f64], &[f64]); 4] = [
        (&[0.01, 0.04, 0.03, 0.005], &[0.03, 0.06, 0.06, 0.02]),
        (
            &[0.2, 0.5, 0.01, 0.9, 0.04, 0.04],
            &[0.6000000000000001, 1.0, 0.06, 1.0, 0.2, 0.2],
        ),
        (&[0.6, 0.7], &[1.0, 1.0]),
        (
            // numpy.random.default_rng(12).uniform(0, 0.2, 12), rounded to 6 digits
            &[
                0.0501649,
                0.189351,
                0.0378641,
                0.0358583,
                0.0699778,
                0.0461082,
                0.134089,
                0.0230159,
                0.179262,
                0.171626,
                0.000565406,
                0.108293,
            ],
            &[
                0.3688656,
                0.541465,
                0.35858300000000004,
                0.35858300000000004,
                0.41986680000000004,
                0.3688656,
                0.541465,
                0.2531749,
                0.541465,
                0.541465,
                0.006784871999999999,
                0.541465,
            ],
        ),
    ];
    for (p, expected) in cases {
        let adj = holm(p).unwrap();
        assert_eq!(adj.len(), expected.len());
        for (i, (&a, &e)) in adj.iter().zip(expected).enumerate() {
            // One product (m - j + 1) * p and a max/min: identical in both, bit for bit.
            assert_eq!(a, e, "holm({p:?})[{i}]");
        }
    }
}

#[test]
fn exact_permutation_p_values_match_an_enumeration_of_all_pairings() {
    // (x, y, spearman?, r, p): r from scipy.stats.spearmanr / pearsonr; p = P(|r_π| >= |r|)
    // over all n! pairings (itertools.permutations in the script; for n = 6 also
    // scipy.stats.permutation_test(|r|, permutation_type='pairings', n_resamples=inf,
    // alternative='greater'), which agrees).
    #[allow(clippy::type_complexity)]
    let cases: [(&str, &[f64], &[f64], bool, f64, f64); 4] = [
        (
            "spearman_6_no_ties",
            &[0.91, 0.85, 0.78, 0.95, 0.60, 0.72],
            &[0.12, 0.30, 0.25, 0.05, 0.70, 0.40],
            true,
            -0.942857142857143,
            0.016666666666666666,
        ),
        (
            "spearman_8_ties",
            &[0.8, 0.6, 0.6, 0.9, 0.7, 0.5, 0.9, 0.4],
            &[93.0, 92.1, 92.5, 93.4, 92.5, 91.8, 92.9, 92.0],
            true,
            0.9151683228048982,
            0.002976190476190476,
        ),
        (
            "spearman_8_weak",
            &[0.1, 0.5, 0.3, 0.8, 0.2, 0.7, 0.4, 0.6],
            &[5.0, 1.0, 7.0, 3.0, 8.0, 2.0, 6.0, 4.0],
            true,
            -0.6904761904761906,
            0.06939484126984127,
        ),
        (
            "pearson_7",
            &[0.5, -1.2, 2.3, 0.1, -0.7, 1.9, 0.0],
            &[0.3, -0.4, 1.1, 0.8, 0.2, 0.6, -0.9],
            false,
            0.660580014889793,
            0.10674603174603174,
        ),
    ];
    // Exact tests draw nothing from the RNG (resamples is ignored for n <= 8).
    let mut rng = StdRng::seed_from_u64(0);
    for (name, x, y, rank, r, p) in cases {
        let test = if rank {
            spearman_permutation_test(x, y, 1, &mut rng).unwrap()
        } else {
            pearson_permutation_test(x, y, 1, &mut rng).unwrap()
        };
        let n_fact: u64 = (1..=x.len() as u64).product();
        assert!(test.exact, "{name}");
        assert_eq!(test.permutations, n_fact, "{name}");
        assert_rel(test.statistic, r, T_RTOL, &format!("{name} r"));
        // p = count / n!: an integer count divided once, so equal bit for bit when the count is.
        assert_eq!(test.p_two_sided, p, "{name} p");
    }
    // The smallest p with 4 pairs is 1/12 (the identity and the reversal out of 24).
    let four = spearman_permutation_test(&[1.0, 2.0, 3.0, 4.0], &[2.0, 4.0, 6.0, 8.0], 1, &mut rng);
    assert_eq!(four.unwrap().p_two_sided, 2.0 / 24.0);
}

#[test]
fn monte_carlo_permutation_p_approaches_the_exact_value_above_eight_pairs() {
    // n = 10: the exact p over all 10! = 3,628,800 pairings (itertools in the script). With
    // B = 100,000 the estimate has sd sqrt(p (1 - p) / B) <= 8e-4 here; 5 sd = 0.004.
    let x = [0.3, 1.2, -0.5, 2.2, 0.9, 1.1, -1.3, 0.4, 0.8, 1.9];
    let y_pearson = [0.1, 0.7, 0.2, 1.5, 0.3, 1.4, -0.9, 0.9, 0.2, 0.1];
    let y_spearman = [0.1, 0.7, 0.2, 1.5, 0.3, 1.4, -0.9, 0.9, 0.25, 0.15];
    const B: usize = 100_000;
    let mut rng = StdRng::seed_from_u64(0x5eed_0010);
    let p = pearson_permutation_test(&x, &y_pearson, B, &mut rng).unwrap();
    assert!(!p.exact && p.permutations == B as u64);
    assert_rel(p.statistic, 0.6939403686663532, T_RTOL, "pearson r");
    let exact = 0.026076940035273367;
    assert!((p.p_two_sided - exact).abs() < 5.0 * (exact * (1.0 - exact) / B as f64).sqrt());
    let s = spearman_permutation_test(&x, &y_spearman, B, &mut rng).unwrap();
    assert_rel(s.statistic, 0.6242424242424242, T_RTOL, "spearman r");
    let exact = 0.06031580687830688;
    assert!(
        (s.p_two_sided - exact).abs() < 5.0 * (exact * (1.0 - exact) / B as f64).sqrt(),
        "spearman p {} vs exact {exact}",
        s.p_two_sided
    );
}

// ---------------------------------------------------------------------------------------------
// Bootstrap: a large-sample reference and properties

/// A standard normal draw (Box–Muller; rand 0.8 has no normal distribution without
/// rand_distr).
fn normal(rng: &mut StdRng) -> f64 {
    let u1: f64 = 1.0 - rng.gen::<f64>(); // (0, 1]: ln is finite
    let u2: f64 = rng.gen();
    (-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()
}

#[test]
fn bootstrap_interval_matches_a_million_resample_numpy_bootstrap() {
    // The script's percentile bootstrap, numpy default_rng(0), 10^6 resamples, 95%:
    // (data, lo, hi, plug-in se = std(ddof=0)/sqrt(n)). Our 10,000 resamples put each endpoint
    // within sqrt(q(1-q)/B)/φ(z_q) = 0.027 se (one sd) of the exact bootstrap quantile; the
    // reference's own error is 10x smaller. These data are on a lattice (multiples of 0.05/8
    // and 0.1/20 = 0.11 and 0.024 se), so the quantile can also move by one lattice step:
    // scipy.stats.bootstrap (2e5 resamples) gives hi = 0.23125 on the first set, one step
    // from numpy's. Tolerance 0.2 se: one lattice step plus 3 sd.
    let d: Vec<f64> = ACCURACY
        .0
        .iter()
        .zip(ACCURACY.1)
        .map(|(a, b)| a - b)
        .collect();
    let skewed = [
        0.2, 0.1, 0.5, 0.3, 2.9, 0.4, 0.2, 0.8, 0.1, 1.7, 0.3, 0.6, 0.2, 0.9, 0.4, 3.8, 0.5, 0.3,
        0.7, 0.2,
    ];
    for (name, data, lo, hi, se) in [
        (
            "accuracy_diffs",
            &d[..],
            0.01875000000000071,
            0.23749999999999893,
            0.05585800916162453,
        ),
        (
            "skewed_20",
            &skewed[..],
            0.395,
            1.2149999999999999,
            0.21159808600268576,
        ),
    ] {
        let mut rng = StdRng::seed_from_u64(0x5eed_b007);
        let ci = bootstrap_mean_ci(data, DEFAULT_RESAMPLES, DEFAULT_LEVEL, &mut rng).unwrap();
        assert!(
            (ci.lo - lo).abs() < 0.2 * se && (ci.hi - hi).abs() < 0.2 * se,
            "{name}: [{}, {}] vs numpy [{lo}, {hi}], se {se}",
            ci.lo,
            ci.hi
        );
        // The skewed sample's interval is asymmetric around the mean, as the percentile
        // method should make it (a symmetric mean ± z se would hide that).
        if name == "skewed_20" {
            let m = mean(data);
            assert!(
                ci.hi - m > m - ci.lo,
                "{name}: [{}, {}], mean {m}",
                ci.lo,
                ci.hi
            );
        }
    }
}

#[test]
fn bootstrap_interval_approaches_the_normal_interval_for_large_n() {
    // For n = 400 normal draws the bootstrap distribution of the mean is close to normal with
    // sd = plug-in σ̂ / sqrt(n), so the 95% endpoints are mean ∓ 1.959964 σ̂/sqrt(n). The
    // Monte Carlo sd of an endpoint at B = 10,000 is 0.027 se; skewness corrections are
    // O(1/sqrt(n)) smaller still. Tolerance 0.12 se (above 4 sd).
    let mut rng = StdRng::seed_from_u64(0x5eed_0400);
    let xs: Vec<f64> = (0..400).map(|_| 3.0 + 0.5 * normal(&mut rng)).collect();
    let m = mean(&xs);
    let se = std_dev(&xs) * (399.0f64 / 400.0).sqrt() / 20.0;
    let ci = bootstrap_mean_ci(&xs, DEFAULT_RESAMPLES, DEFAULT_LEVEL, &mut rng).unwrap();
    const Z: f64 = 1.959963984540054; // scipy.stats.norm.ppf(0.975)
    assert!(
        (ci.lo - (m - Z * se)).abs() < 0.12 * se,
        "lo {} vs {}",
        ci.lo,
        m - Z * se
    );
    assert!(
        (ci.hi - (m + Z * se)).abs() < 0.12 * se,
        "hi {} vs {}",
        ci.hi,
        m + Z * se
    );
}

#[test]
fn bootstrap_interval_shrinks_like_one_over_sqrt_n() {
    let mut rng = StdRng::seed_from_u64(0x5eed_5c41);
    let mut last_width = f64::INFINITY;
    for n in [25, 100, 400, 1600] {
        let xs: Vec<f64> = (0..n).map(|_| normal(&mut rng)).collect();
        let ci = bootstrap_mean_ci(&xs, 4000, 0.95, &mut rng).unwrap();
        let width = ci.hi - ci.lo;
        assert!(
            width < last_width,
            "n={n}: width {width} not below {last_width}"
        );
        // width ≈ 2 z σ̂ sqrt((n-1)/n) / sqrt(n); at n = 25 the sample's own sd is noisy, so the
        // check is on σ̂ as measured, within 15% (Monte Carlo at B = 4000 is ~5% per endpoint).
        let expected =
            2.0 * 1.96 * std_dev(&xs) * ((n - 1) as f64 / n as f64).sqrt() / (n as f64).sqrt();
        assert!(
            (width / expected - 1.0).abs() < 0.15,
            "n={n}: width {width}, expected {expected}"
        );
        last_width = width;
    }
}

#[test]
fn bootstrap_interval_covers_the_true_mean_about_as_often_as_its_level() {
    // 1000 synthetic data sets of n = 20 normal draws (true mean 0.7). The percentile interval
    // uses z and the plug-in sd, so it undercovers a little at n = 20 (about 93% at a nominal
    // 95%, ~78% at 80%, by the normal theory the t interval corrects). With 1000 trials the
    // binomial sd of the observed coverage is <= 0.013; the bounds are > 3 sd from those
    // values. A wrong quantile (level, side or index) moves coverage far outside them.
    let mut rng = StdRng::seed_from_u64(0x5eed_c0e4);
    let (mut hit95, mut hit80) = (0, 0);
    const TRIALS: usize = 1000;
    for _ in 0..TRIALS {
        let xs: Vec<f64> = (0..20).map(|_| 0.7 + 2.0 * normal(&mut rng)).collect();
        hit95 += bootstrap_mean_ci(&xs, 2000, 0.95, &mut rng)
            .unwrap()
            .contains(0.7) as usize;
        hit80 += bootstrap_mean_ci(&xs, 2000, 0.80, &mut rng)
            .unwrap()
            .contains(0.7) as usize;
    }
    let (c95, c80) = (hit95 as f64 / TRIALS as f64, hit80 as f64 / TRIALS as f64);
    assert!((0.89..=0.97).contains(&c95), "95% interval covered {c95}");
    assert!((0.73..=0.84).contains(&c80), "80% interval covered {c80}");
}

#[test]
fn bootstrap_interval_is_seeded() {
    let mut data_rng = StdRng::seed_from_u64(1);
    let xs: Vec<f64> = (0..12).map(|_| normal(&mut data_rng)).collect();
    let ci = |seed| bootstrap_mean_ci(&xs, 1000, 0.95, &mut StdRng::seed_from_u64(seed)).unwrap();
    assert_eq!(ci(7), ci(7));
    assert_ne!(ci(7), ci(8));
}

#[test]
fn paired_summary_is_the_paired_test_the_bootstrap_of_the_differences_and_welch() {
    let (a, b) = SEED_EFFECT;
    let s = paired_summary(a, b, &mut StdRng::seed_from_u64(3)).unwrap();
    assert_eq!(s.paired, paired_t_test(a, b).unwrap());
    assert_eq!(s.welch, welch_t_test(a, b));
    let d: Vec<f64> = a.iter().zip(b).map(|(x, y)| x - y).collect();
    let ci = bootstrap_mean_ci(&d, 10_000, 0.95, &mut StdRng::seed_from_u64(3)).unwrap();
    assert_eq!(s.ci, ci);
    assert_eq!((s.ci.resamples, s.ci.level), (10_000, 0.95));
    assert_eq!(s.mean_diff(), s.paired.mean_diff);
    // Every difference is negative, so the whole interval is.
    assert!(s.ci.hi < 0.0 && s.ci.contains(s.mean_diff()));
    let custom = paired_comparison(a, b, 500, 0.9, &mut StdRng::seed_from_u64(3)).unwrap();
    assert_eq!((custom.ci.resamples, custom.ci.level), (500, 0.9));
    // Unequal lengths are a typed error, not a panic.
    assert!(paired_summary(&a[..3], b, &mut StdRng::seed_from_u64(3)).is_err());
}
