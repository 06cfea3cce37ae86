//! Paired comparisons of the arms (issue 12): bp, l1, he and gi share each seed's data order,
//! and bp, l1 and gi share its initial weights, so seed `s` of one arm is matched with seed
//! `s` of another. The seed-to-seed variance that all arms share cancels in the difference
//! `d_s = acc_arm(s) − acc_ref(s)`, which Welch's unpaired test counts as noise.
//!
//! The family: every arm against `bp`, and every arm other than `bp` and `gi` against `gi`
//! (`bp` against `gi` is `gi` against `bp` with the sign flipped, so it is not tested twice).
//! Each row carries the mean paired difference, its percentile-bootstrap 95% CI (10,000
//! resamples, an RNG seeded from the row's arms so every CI is reproducible), the paired
//! t-test's two-sided p, Holm's step-down adjustment of those p-values over the whole family,
//! and Welch's p as a secondary column. Only seeds present in both arms are paired.
//!
//! A row one of whose arms has a diverged run (module [`divergence`](super::divergence)) is
//! kept in the table, with its pairs, but without a difference, CI or p-value: it reads
//! `<arm> diverged (n of m seeds)` and is left out of Holm's family.

use super::arm::Arm;
use super::summary::{diverged_label, RunRecord};
use crate::error::Result;
use crate::report::table::{fmt_fixed, fmt_p_value, Table};
use crate::stats::{self, PairedComparison};
use rand::rngs::StdRng;
use rand::SeedableRng;

/// One comparison `arm − reference` of test accuracy over the seeds both ran.
#[derive(Clone, Debug, PartialEq)]
pub struct PairedRow {
    /// The arm compared.
    pub arm: Arm,
    /// The arm it is compared against (`bp` or `gi`).
    pub reference: Arm,
    /// The seeds both arms ran, in increasing order.
    pub seeds: Vec<u64>,
    /// Paired t-test, bootstrap CI and Welch's test of `arm` against `reference`; `None` when
    /// the row is [`excluded`](Self::excluded).
    pub comparison: Option<PairedComparison>,
    /// Why the row has no test: `<arm> diverged (n of m seeds)` for each arm of it with a
    /// diverged run.
    pub excluded: Option<String>,
    /// The paired p-value after Holm's adjustment over every tested row of the family (NaN
    /// for an excluded row).
    pub p_holm: f64,
}

/// The RNG seed of one row's bootstrap: a fixed function of the two arm names (FNV-1a), so the
/// CI of a row does not depend on which other arms ran.
fn bootstrap_seed(arm: Arm, reference: Arm) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in format!("{}-{}", arm.name(), reference.name()).bytes() {
        h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// Test accuracies of `a` and `b` on the seeds both ran, matched by seed.
fn matched(records: &[RunRecord], a: Arm, b: Arm) -> (Vec<u64>, Vec<f64>, Vec<f64>) {
    let of = |arm: Arm, seed: u64| {
        records
            .iter()
            .find(|r| r.arm == arm && r.seed == seed)
            .map(|r| r.test_acc)
    };
    let mut seeds: Vec<u64> = records
        .iter()
        .filter(|r| r.arm == a && of(b, r.seed).is_some())
        .map(|r| r.seed)
        .collect();
    seeds.sort_unstable();
    seeds.dedup();
    let xs = seeds
        .iter()
        .map(|&s| of(a, s).unwrap_or(f64::NAN))
        .collect();
    let ys = seeds
        .iter()
        .map(|&s| of(b, s).unwrap_or(f64::NAN))
        .collect();
    (seeds, xs, ys)
}

/// The family of comparisons described in the module docs, for the arms present in
/// `records` (in order of first appearance), with Holm-adjusted p-values.
pub fn paired_comparisons(records: &[RunRecord]) -> Result<Vec<PairedRow>> {
    let mut arms: Vec<Arm> = Vec::new();
    for r in records {
        if !arms.contains(&r.arm) {
            arms.push(r.arm);
        }
    }
    let mut pairs = Vec::new();
    for reference in [Arm::Bp, Arm::GradInstructor] {
        if !arms.contains(&reference) {
            continue;
        }
        for &arm in &arms {
            let skip = arm == reference || (reference == Arm::GradInstructor && arm == Arm::Bp);
            if !skip {
                pairs.push((arm, reference));
            }
        }
    }
    let mut rows = Vec::with_capacity(pairs.len());
    for (arm, reference) in pairs {
        let (seeds, a, b) = matched(records, arm, reference);
        let diverged: Vec<String> = [arm, reference]
            .into_iter()
            .filter_map(|x| diverged_label(records, x).map(|l| format!("{} {l}", x.name())))
            .collect();
        let (comparison, excluded) = if diverged.is_empty() {
            let mut rng = StdRng::seed_from_u64(bootstrap_seed(arm, reference));
            (Some(stats::paired_summary(&a, &b, &mut rng)?), None)
        } else {
            (None, Some(diverged.join(", ")))
        };
        rows.push(PairedRow {
            arm,
            reference,
            seeds,
            comparison,
            excluded,
            p_holm: f64::NAN,
        });
    }
    // Holm over the rows whose p is defined (fewer than two pairs give NaN and are left out,
    // and so are rows without a test).
    let p_of = |r: &PairedRow| r.comparison.as_ref().map_or(f64::NAN, |c| c.p_paired());
    let defined: Vec<usize> = (0..rows.len())
        .filter(|&i| p_of(&rows[i]).is_finite())
        .collect();
    let ps: Vec<f64> = defined.iter().map(|&i| p_of(&rows[i])).collect();
    for (&i, p) in defined.iter().zip(stats::holm(&ps)?) {
        rows[i].p_holm = p;
    }
    Ok(rows)
}

/// The paired table (percentage points), for the terminal, Markdown and HTML.
pub fn paired_table(rows: &[PairedRow]) -> Result<Table> {
    let mut t = Table::new([
        "comparison (test acc)",
        "pairs",
        "mean diff (pp)",
        "95% CI (pp)",
        "p (paired t)",
        "p (Holm)",
        "p (Welch)",
    ]);
    let pp = |x: f64| fmt_fixed(100.0 * x, 2);
    for r in rows {
        let name = format!("{} − {}", r.arm.name(), r.reference.name());
        let pairs = r.seeds.len().to_string();
        match (&r.comparison, &r.excluded) {
            (Some(c), _) => t.push_row([
                name,
                pairs,
                pp(c.mean_diff()),
                format!("[{}, {}]", pp(c.ci.lo), pp(c.ci.hi)),
                fmt_p_value(c.p_paired()),
                fmt_p_value(r.p_holm),
                fmt_p_value(c.welch.p_two_sided),
            ])?,
            (None, why) => {
                let dash = || "—".to_string();
                t.push_row([
                    name,
                    pairs,
                    why.clone().unwrap_or_else(dash),
                    dash(),
                    dash(),
                    dash(),
                    dash(),
                ])?
            }
        }
    }
    Ok(t)
}

/// The rows as JSON for `summary.json` (fractions, not points).
pub fn paired_json(rows: &[PairedRow]) -> serde_json::Value {
    rows.iter()
        .map(|r| match &r.comparison {
            Some(c) => serde_json::json!({
                "arm": r.arm.name(), "reference": r.reference.name(), "seeds": r.seeds,
                "mean_diff": c.mean_diff(), "sd_diff": c.paired.sd_diff,
                "ci95_lo": c.ci.lo, "ci95_hi": c.ci.hi,
                "p_paired": c.p_paired(), "p_holm": r.p_holm, "p_welch": c.welch.p_two_sided,
            }),
            None => serde_json::json!({
                "arm": r.arm.name(), "reference": r.reference.name(), "seeds": r.seeds,
                "excluded": r.excluded,
            }),
        })
        .collect()
}

/// What the table's columns mean, for the report.
pub const PAIRED_NOTE: &str = "Paired by seed (the arms share each seed's data order; bp, l1 and gi also its initial weights): mean of acc(arm) − acc(reference) over the seeds both ran, its percentile-bootstrap 95% CI (10,000 seeded resamples), the paired t-test's two-sided p, that p after Holm's step-down adjustment over every row of this table, and Welch's unpaired p as a secondary column. A comparison with an arm that has a diverged run is not tested (it reads \"diverged (n of m seeds)\") and is left out of Holm's family.";

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(arm: Arm, seed: u64, acc: f64) -> RunRecord {
        RunRecord {
            arm,
            seed,
            test_acc: acc,
            train_acc: acc,
            last_epoch_loss: 0.3,
            train_secs: 0.0,
            steps: 1,
            divergence: None,
        }
    }

    #[test]
    fn a_constant_shift_under_large_seed_noise_is_significant_paired_but_not_unpaired() {
        // Seed effects of ±2 points swamp a 0.1-point shift for Welch; pairing removes them.
        let base = [0.90, 0.88, 0.92, 0.89, 0.91, 0.87, 0.93, 0.90];
        let jitter = [1e-4, -1e-4, 2e-4, 0.0, -2e-4, 1e-4, 0.0, -1e-4];
        let mut rs = Vec::new();
        for (s, (&b, &j)) in base.iter().zip(&jitter).enumerate() {
            rs.push(rec(Arm::Bp, s as u64, b));
            rs.push(rec(Arm::GradInstructor, s as u64, b + 0.001 + j));
        }
        let rows = paired_comparisons(&rs).unwrap();
        assert_eq!(rows.len(), 1, "bp−gi is not tested twice");
        let r = &rows[0];
        let c = r.comparison.as_ref().unwrap();
        assert_eq!((r.arm, r.reference), (Arm::GradInstructor, Arm::Bp));
        assert!((c.mean_diff() - 0.001).abs() < 1e-12);
        assert!(c.p_paired() < 1e-6);
        assert!(c.welch.p_two_sided > 0.5);
        assert!(c.ci.lo > 0.0 && c.ci.hi < 0.002);
        assert_eq!(r.p_holm, c.p_paired(), "a family of one is not adjusted");
    }

    #[test]
    fn the_family_has_every_arm_against_bp_and_the_others_against_gi_with_holm() {
        let mut rs = Vec::new();
        for s in 0..6u64 {
            let x = 0.9 + 0.01 * (s as f64 % 3.0);
            rs.push(rec(Arm::Bp, s, x));
            rs.push(rec(Arm::L1, s, x + 1e-4 * s as f64));
            rs.push(rec(Arm::He, s, x + 0.01 + 1e-3 * (s % 2) as f64));
            rs.push(rec(Arm::GradInstructor, s, x - 2e-4 * (s % 3) as f64));
        }
        let rows = paired_comparisons(&rs).unwrap();
        let names: Vec<(Arm, Arm)> = rows.iter().map(|r| (r.arm, r.reference)).collect();
        use Arm::*;
        assert_eq!(
            names,
            [
                (L1, Bp),
                (He, Bp),
                (GradInstructor, Bp),
                (L1, GradInstructor),
                (He, GradInstructor)
            ]
        );
        let p = |r: &PairedRow| r.comparison.as_ref().unwrap().p_paired();
        let raw: Vec<f64> = rows.iter().map(p).collect();
        let holm = stats::holm(&raw).unwrap();
        for (r, h) in rows.iter().zip(holm) {
            assert_eq!(r.p_holm, h);
            assert!(r.p_holm >= p(r));
        }
        // Deterministic: the same records give the same CIs.
        assert_eq!(rows, paired_comparisons(&rs).unwrap());
    }

    #[test]
    fn only_seeds_both_arms_ran_are_paired() {
        let rs = vec![
            rec(Arm::Bp, 0, 0.90),
            rec(Arm::Bp, 1, 0.91),
            rec(Arm::Bp, 2, 0.92),
            rec(Arm::He, 1, 0.93),
            rec(Arm::He, 2, 0.95),
            rec(Arm::He, 3, 0.99),
        ];
        let rows = paired_comparisons(&rs).unwrap();
        assert_eq!(rows[0].seeds, [1, 2]);
        let c = rows[0].comparison.as_ref().unwrap();
        assert!((c.mean_diff() - 0.025).abs() < 1e-12);
    }

    #[test]
    fn rows_with_a_diverged_arm_have_no_test_and_leave_holms_family() {
        use crate::experiment::divergence::{Cause, Divergence};
        let mut rs = Vec::new();
        for s in 0..5u64 {
            let x = 0.9 + 0.01 * (s as f64 % 3.0);
            rs.push(rec(Arm::Bp, s, x));
            rs.push(rec(Arm::He, s, x + 0.01 + 1e-3 * (s % 2) as f64));
            rs.push(rec(Arm::GradInstructor, s, x - 2e-4 * (s % 3) as f64));
        }
        let clean = paired_comparisons(&rs).unwrap();
        // he − bp, gi − bp, he − gi: all tested.
        assert!(clean.iter().all(|r| r.comparison.is_some()));
        // One of he's five seeds diverges (at chance): both rows with he lose their test.
        rs[4].test_acc = 0.1;
        rs[4].divergence = Some(Divergence {
            epoch: 1,
            cause: Cause::Chance,
        });
        let rows = paired_comparisons(&rs).unwrap();
        for r in &rows {
            if r.arm == Arm::He || r.reference == Arm::He {
                assert!(r.comparison.is_none() && r.p_holm.is_nan());
                assert_eq!(r.excluded.as_deref(), Some("he diverged (1 of 5 seeds)"));
                assert_eq!(r.seeds.len(), 5, "the pairs are still counted");
            } else {
                // gi − bp alone is the family now: Holm leaves a family of one unadjusted.
                let c = r.comparison.as_ref().unwrap();
                assert_eq!(r.p_holm, c.p_paired());
                assert!(r.excluded.is_none());
            }
        }
        let table = paired_table(&rows).unwrap().to_markdown();
        assert!(table.contains("he diverged (1 of 5 seeds)"), "{table}");
        let he_lines: Vec<&str> = table
            .lines()
            .filter(|l| l.contains("he −") || l.contains("− he"))
            .collect();
        assert_eq!(he_lines.len(), 2, "{table}");
        for l in he_lines {
            assert!(!l.contains("e-") && !l.contains('['), "a number in {l}");
        }
        let json = paired_json(&rows);
        assert!(json[0]["p_paired"].is_null() && json[0]["excluded"].is_string());
    }
}
