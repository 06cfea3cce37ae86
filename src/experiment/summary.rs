//! Per-arm summaries and Welch's test of `gi` against each other arm, computed from the runs'
//! numbers directly.

use super::arm::{Arm, RunResult};
use crate::stats::{self, WelchTest};
use serde::{Deserialize, Serialize};

/// The numbers of one (arm, seed) run that summaries and `runs.csv` need (a [`RunResult`]
/// without the trained network).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct RunRecord {
    /// Which arm.
    pub arm: Arm,
    /// Which seed.
    pub seed: u64,
    /// Test accuracy in [0, 1].
    pub test_acc: f64,
    /// Train accuracy in [0, 1].
    pub train_acc: f64,
    /// Mean training loss over the last epoch.
    pub last_epoch_loss: f64,
    /// Seconds spent training.
    pub train_secs: f64,
    /// Optimizer steps.
    pub steps: usize,
}

impl RunRecord {
    /// Train accuracy minus test accuracy.
    pub fn gap(&self) -> f64 {
        self.train_acc - self.test_acc
    }
}

impl From<&RunResult> for RunRecord {
    fn from(r: &RunResult) -> Self {
        RunRecord {
            arm: r.arm,
            seed: r.seed,
            test_acc: r.test_acc,
            train_acc: r.train_acc,
            last_epoch_loss: r.last_epoch_loss,
            train_secs: r.train_secs,
            steps: r.steps,
        }
    }
}

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
    /// Welch's test of `gi`'s test accuracies against this arm's (`None` for `gi` itself or
    /// when `gi` did not run).
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
    arms.into_iter()
        .map(|arm| {
            let rs: Vec<&RunRecord> = records.iter().filter(|r| r.arm == arm).collect();
            let col = |f: fn(&RunRecord) -> f64| rs.iter().map(|r| f(r)).collect::<Vec<f64>>();
            let test = col(|r| r.test_acc);
            let welch_vs_gi = (arm != Arm::GradInstructor && !gi.is_empty())
                .then(|| stats::welch_t_test(&gi, &test));
            ArmSummary {
                arm,
                seeds: rs.len(),
                test_acc: MeanStd::of(&test),
                train_acc: MeanStd::of(&col(|r| r.train_acc)),
                gap: MeanStd::of(&col(|r| r.train_acc - r.test_acc)),
                welch_vs_gi,
                train_secs: stats::mean(&col(|r| r.train_secs)),
            }
        })
        .collect()
}
