//! The study's table: mean ± sd per (percentage, mask) and the paired comparisons of the heat
//! mask with every control (bootstrap CI, t-test, Holm).

use super::masks::MaskKind;
use super::protocol::CaseResult;
use super::{LotteryComparison, LotteryRow};
use crate::error::Result;
use crate::stats;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// One row per (percentage, kind): mean and spread of the accuracies over the MLPs (over the
/// draws when there is one MLP), and each MLP's mean fine-tuned accuracy.
pub(super) fn summarize_rows(
    per_case: &[CaseResult],
    kinds: &[MaskKind],
    percents: &[f64],
) -> Vec<LotteryRow> {
    let n_kinds = kinds.len();
    let mean_of = |draws: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
        stats::mean(&draws.iter().map(f).collect::<Vec<_>>())
    };
    let mut rows = Vec::new();
    for (pi, &percent) in percents.iter().enumerate() {
        for (ki, &kind) in kinds.iter().enumerate() {
            let at = pi * n_kinds + ki;
            let (before, after): (Vec<f64>, Vec<f64>) = if per_case.len() == 1 {
                // One MLP: the spread is over the draws.
                per_case[0][at].iter().copied().unzip()
            } else {
                per_case
                    .iter()
                    .map(|c| (mean_of(&c[at], |x| x.0), mean_of(&c[at], |x| x.1)))
                    .unzip()
            };
            rows.push(LotteryRow {
                kind,
                percent,
                untrained: (stats::mean(&before), stats::std_dev(&before)),
                finetuned: (stats::mean(&after), stats::std_dev(&after)),
                per_mlp: per_case.iter().map(|c| mean_of(&c[at], |x| x.1)).collect(),
            });
        }
    }
    rows
}

/// Paired comparisons of the heat mask (kind 0) against every control at each percentage,
/// over the MLPs, with bootstrap CIs from `seed` and Holm-adjusted p-values.
pub(super) fn compare_to_controls(
    rows: &[LotteryRow],
    kinds: &[MaskKind],
    percents: &[f64],
    seed: u64,
) -> Result<Vec<LotteryComparison>> {
    let n_kinds = kinds.len();
    let mut comparisons = Vec::new();
    let mut ci_rng = StdRng::seed_from_u64(seed ^ 0xB007);
    for (pi, &percent) in percents.iter().enumerate() {
        let heat = &rows[pi * n_kinds].per_mlp;
        for ki in 1..n_kinds {
            let other = &rows[pi * n_kinds + ki].per_mlp;
            let c = stats::paired_summary(heat, other, &mut ci_rng)?;
            comparisons.push(LotteryComparison {
                percent,
                control: kinds[ki],
                mean_diff: c.paired.mean_diff,
                sd_diff: c.paired.sd_diff,
                ci: (c.ci.lo, c.ci.hi),
                t: c.paired.t,
                p: c.paired.p_two_sided,
                p_holm: f64::NAN,
            });
        }
    }
    let adjusted = stats::holm(&comparisons.iter().map(|c| c.p).collect::<Vec<_>>())?;
    comparisons
        .iter_mut()
        .zip(adjusted)
        .for_each(|(c, p)| c.p_holm = p);
    Ok(comparisons)
}
