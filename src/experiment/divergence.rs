//! When a training run counts as *diverged* (issue 15): a result to report, not a success to
//! average.
//!
//! The rule, fixed before looking at any result it would change (README, "Robustness"):
//! a run of `E` epochs with mean training losses `L_1 .. L_E` and final test accuracy `a` over
//! `C` classes is diverged if
//!
//! 1. some `L_e` is not finite (`non-finite`), or
//! 2. some `L_e > 3 L_1` (`loss-rise`: SGD that works lowers the loss; tripling it means the
//!    steps overshoot), or
//! 3. `a ≤ 1/C + 0.02` (`chance`: at most two points above guessing, whatever the losses say —
//!    `--lr 50` ends near 10% with finite, even falling, losses of 1e30).
//!
//! The first condition that holds, at the earliest epoch, is recorded; `chance` is recorded at
//! the last epoch. A NaN or infinite loss at a single step never reaches this rule: the
//! training step refuses it ([`Error::NonFinite`](crate::Error::NonFinite), naming arm, seed
//! and step) and the whole run fails, since no accuracy of a NaN network means anything.
//!
//! What a diverged run does to the statistics ([`summarize`](super::summarize),
//! [`paired_comparisons`](super::paired_comparisons)): an arm with any diverged run gets no
//! p-value, neither against `gi` nor in the paired table (where it also leaves Holm's family),
//! and its row says `diverged (n of m seeds)`. The whole arm is left out of the tests rather
//! than only its diverged seeds: keeping the seeds that happened to converge would compare a
//! selected subset against full arms.

use serde::{Deserialize, Serialize};

/// Condition 2: a mean epoch loss above this multiple of the first epoch's.
pub const LOSS_RISE_FACTOR: f64 = 3.0;
/// Condition 3: a final test accuracy at most this far above `1 / classes`.
pub const CHANCE_MARGIN: f64 = 0.02;

/// The rule and what it does to the statistics, in one sentence for reports.
pub const RULE: &str = "A run is diverged if an epoch's mean training loss is not finite or above 3× the first epoch's, or its final test accuracy is at most 1/classes + 2 points (12% on MNIST's 10 classes). An arm with a diverged run gets no p-value and reads \"diverged (n of m seeds)\": the whole arm is left out of the tests, not only its diverged seeds, since the seeds that converged are a selected subset.";

/// Which condition of the rule flagged a run.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Cause {
    /// An epoch's mean training loss is NaN or infinite.
    NonFinite,
    /// An epoch's mean training loss exceeds [`LOSS_RISE_FACTOR`] × the first epoch's.
    LossRise,
    /// The final test accuracy is within [`CHANCE_MARGIN`] of chance.
    Chance,
}

impl Cause {
    /// The name used in `runs.csv` and reports.
    pub fn name(self) -> &'static str {
        match self {
            Cause::NonFinite => "non-finite",
            Cause::LossRise => "loss-rise",
            Cause::Chance => "chance",
        }
    }

    fn parse(s: &str) -> Option<Cause> {
        [Cause::NonFinite, Cause::LossRise, Cause::Chance]
            .into_iter()
            .find(|c| c.name() == s)
    }
}

/// A run flagged by the rule: where and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Divergence {
    /// The epoch (1-based) at which the condition holds.
    pub epoch: usize,
    /// The condition.
    pub cause: Cause,
}

impl Divergence {
    /// The `runs.csv` cell: `no` for `None`, else `<cause>@epoch<N>` (e.g. `chance@epoch3`).
    pub fn cell(d: Option<Divergence>) -> String {
        match d {
            None => "no".into(),
            Some(d) => format!("{}@epoch{}", d.cause.name(), d.epoch),
        }
    }

    /// Reads a [`cell`](Self::cell) back; `None` when it is not one.
    pub fn parse_cell(s: &str) -> Option<Option<Divergence>> {
        if s == "no" {
            return Some(None);
        }
        let (cause, epoch) = s.split_once("@epoch")?;
        let epoch: usize = epoch.parse().ok().filter(|&e| e >= 1)?;
        Some(Some(Divergence {
            epoch,
            cause: Cause::parse(cause)?,
        }))
    }

    /// A sentence for reports: `epoch 2: mean training loss above 3× the first epoch's`.
    pub fn describe(&self) -> String {
        let what = match self.cause {
            Cause::NonFinite => "mean training loss not finite".to_string(),
            Cause::LossRise => {
                format!("mean training loss above {LOSS_RISE_FACTOR}× the first epoch's")
            }
            Cause::Chance => format!(
                "final test accuracy within {} points of chance",
                100.0 * CHANCE_MARGIN
            ),
        };
        format!("epoch {}: {what}", self.epoch)
    }
}

/// Condition 3 alone, for a run of `epochs` epochs (also used for `runs.csv` files written
/// before the rule existed, whose epoch losses were not kept).
pub fn at_chance(test_acc: f64, classes: usize, epochs: usize) -> Option<Divergence> {
    let chance = 1.0 / classes.max(1) as f64;
    // An accuracy that is not a number is no better than chance.
    (test_acc.is_nan() || test_acc <= chance + CHANCE_MARGIN).then_some(Divergence {
        epoch: epochs.max(1),
        cause: Cause::Chance,
    })
}

/// The rule of the module docs over a run's mean epoch losses (in order) and final test
/// accuracy over `classes` classes.
pub fn detect(epoch_losses: &[f64], test_acc: f64, classes: usize) -> Option<Divergence> {
    let first = epoch_losses.first().copied();
    for (i, &loss) in epoch_losses.iter().enumerate() {
        let cause = if !loss.is_finite() {
            Cause::NonFinite
        } else if first.is_some_and(|f| loss > LOSS_RISE_FACTOR * f) {
            Cause::LossRise
        } else {
            continue;
        };
        return Some(Divergence {
            epoch: i + 1,
            cause,
        });
    }
    at_chance(test_acc, classes, epoch_losses.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(epoch: usize, cause: Cause) -> Option<Divergence> {
        Some(Divergence { epoch, cause })
    }

    #[test]
    fn each_condition_fires_at_its_epoch_and_a_healthy_run_is_not_flagged() {
        assert_eq!(detect(&[2.3, 0.9, 0.5], 0.91, 10), None);
        // Loss that rises but stays within 3x, with good accuracy: fine.
        assert_eq!(detect(&[1.0, 2.9, 3.0], 0.5, 10), None);
        assert_eq!(detect(&[1.0, 2.0, 3.01], 0.9, 10), at(3, Cause::LossRise));
        assert_eq!(
            detect(&[2.3, f64::NAN, 1.0], 0.9, 10),
            at(2, Cause::NonFinite)
        );
        assert_eq!(detect(&[f64::INFINITY], 0.9, 10), at(1, Cause::NonFinite));
        // The earliest epoch wins; loss conditions before chance.
        assert_eq!(
            detect(&[1.0, 4.0, f64::NAN], 0.1, 10),
            at(2, Cause::LossRise)
        );
        // Chance: 1/10 + 2 points is flagged, just above it is not; recorded at the last epoch.
        assert_eq!(detect(&[5e30, 4e30], 0.12, 10), at(2, Cause::Chance));
        assert_eq!(detect(&[5e30, 4e30], 0.1201, 10), None);
        assert_eq!(detect(&[1.0], 0.52, 2), at(1, Cause::Chance));
        assert_eq!(detect(&[1.0], f64::NAN, 10), at(1, Cause::Chance));
    }

    #[test]
    fn cells_round_trip_and_junk_is_not_a_cell() {
        for d in [
            None,
            at(1, Cause::Chance),
            at(12, Cause::LossRise),
            at(3, Cause::NonFinite),
        ] {
            let cell = Divergence::cell(d);
            assert!(!cell.contains(','), "{cell}");
            assert_eq!(Divergence::parse_cell(&cell), Some(d), "{cell}");
        }
        assert_eq!(Divergence::cell(at(3, Cause::Chance)), "chance@epoch3");
        for junk in [
            "",
            "yes",
            "chance",
            "chance@epoch0",
            "chance@epoch-1",
            "zz@epoch2",
        ] {
            assert_eq!(Divergence::parse_cell(junk), None, "{junk}");
        }
    }
}
