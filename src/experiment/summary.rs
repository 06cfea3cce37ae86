//! Per-arm summaries and Welch's test of `gi` against each other arm, computed from the runs'
//! numbers directly. An arm with a diverged run gets no test (module
//! [`divergence`](super::divergence)).

use super::arm::Arm;
pub use super::arm::RunRecord;
use crate::stats::{self, WelchTest};
use serde::Serialize;

/// Mean and sample standard deviation.
#[derive(Clone, Copy, Debug, PartialEq, Serialize)]
pub struct MeanStd {
    /// Mean.
    pub mean: f64,
    /// Sample standard deviation (n − 1).
    pub std: f64,
}

impl MeanStd {
    fn of(xs: &[f64]) -> MeanStd {
        MeanStd {
            mean: stats::mean(xs),
            std: stats::std_dev(xs),
        }
    }
}

/// One arm's row of the comparison.
#[derive(Clone, Debug, PartialEq)]
pub struct ArmSummary {
    /// The arm.
    pub arm: Arm,
    /// Seeds (runs) summarised.
    pub seeds: usize,
    /// Test accuracy.
    pub test_acc: MeanStd,
    /// Train accuracy.
    pub train_acc: MeanStd,
    /// Train − test gap.
    pub gap: MeanStd,
    /// Runs of this arm flagged as diverged.
    pub diverged: usize,
    /// Welch's test of `gi`'s test accuracies against this arm's (`None` for `gi` itself, when
    /// `gi` did not run, or when either arm has a diverged run).
    pub welch_vs_gi: Option<WelchTest>,
    /// Mean training seconds per run.
    pub train_secs: f64,
}

/// Summaries of each arm present in `records`, in order of first appearance.
pub fn summarize(records: &[RunRecord]) -> Vec<ArmSummary> {
    let mut arms: Vec<Arm> = Vec::new();
    for r in records {
        if !arms.contains(&r.arm) {
            arms.push(r.arm);
        }
    }
    let gi: Vec<f64> = records
        .iter()
        .filter(|r| r.arm == Arm::GradInstructor)
        .map(|r| r.test_acc)
        .collect();
    let gi_diverged = diverged_runs(records, Arm::GradInstructor) > 0;
    arms.into_iter()
        .map(|arm| {
            let rs: Vec<&RunRecord> = records.iter().filter(|r| r.arm == arm).collect();
            let col = |f: fn(&RunRecord) -> f64| rs.iter().map(|r| f(r)).collect::<Vec<f64>>();
            let test = col(|r| r.test_acc);
            let diverged = diverged_runs(records, arm);
            let welch_vs_gi =
                (arm != Arm::GradInstructor && !gi.is_empty() && diverged == 0 && !gi_diverged)
                    .then(|| stats::welch_t_test(&gi, &test));
            ArmSummary {
                arm,
                seeds: rs.len(),
                diverged,
                test_acc: MeanStd::of(&test),
                train_acc: MeanStd::of(&col(|r| r.train_acc)),
                gap: MeanStd::of(&col(|r| r.train_acc - r.test_acc)),
                welch_vs_gi,
                train_secs: stats::mean(&col(|r| r.train_secs)),
            }
        })
        .collect()
}

/// How many of `arm`'s runs in `records` diverged.
pub fn diverged_runs(records: &[RunRecord], arm: Arm) -> usize {
    records
        .iter()
        .filter(|r| r.arm == arm && r.divergence.is_some())
        .count()
}

/// `diverged (n of m seeds)` for an arm with diverged runs, `None` for one without.
pub fn diverged_label(records: &[RunRecord], arm: Arm) -> Option<String> {
    let n = diverged_runs(records, arm);
    let m = records.iter().filter(|r| r.arm == arm).count();
    (n > 0).then(|| format!("diverged ({n} of {m} seeds)"))
}

/// One line per diverged run (`bp seed 3: epoch 1: final test accuracy within 2 points of
/// chance (test acc 9.80%, last epoch loss 4.1e30)`), in record order; empty when none did.
pub fn diverged_lines(records: &[RunRecord]) -> Vec<String> {
    records
        .iter()
        .filter_map(|r| {
            r.divergence.map(|d| {
                format!(
                    "{} seed {}: {} (test acc {:.2}%, last epoch loss {:.3e})",
                    r.arm.name(),
                    r.seed,
                    d.describe(),
                    100.0 * r.test_acc,
                    r.last_epoch_loss
                )
            })
        })
        .collect()
}

/// The terminal's account of diverged runs: a heading line and one line per run, or `None`
/// when no run diverged.
pub fn diverged_text(records: &[RunRecord]) -> Option<String> {
    let lines = diverged_lines(records);
    (!lines.is_empty()).then(|| {
        format!(
            "DIVERGED RUNS ({} of {}): {}\n{}",
            lines.len(),
            records.len(),
            super::divergence::RULE,
            lines
                .iter()
                .map(|l| format!("  {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    })
}
