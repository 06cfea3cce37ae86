//! Stage 4's analysis per ENN seed (the primary comparison and the Holm family of three) and
//! stage 5's verdict on it.

use super::super::design::{Cell, Stage};
use super::super::rows::{Key, Row};
use super::super::rules::{self, Verdict, VerdictInputs, TOST_MARGIN};
use super::super::StudyConfig;
use super::paired::{accuracy, by_seed, paired, EnnSeeds, Paired};
use crate::error::Result;
use std::collections::BTreeMap;

/// The report's stage-4 numbers for one ENN seed.
#[derive(Clone, Debug, PartialEq)]
pub struct Confirmation {
    /// The ENN seed.
    pub enn_seed: u64,
    /// gi − bp.
    pub gain: Paired,
    /// gi − control, with its Holm p.
    pub control: (Paired, f64),
    /// TOST p of gi vs he and its Holm p.
    pub tost: (f64, f64),
    /// (train − test gap of gi) − (that of bp), with its Holm p.
    pub gap: (Paired, f64),
    /// The verdict inputs and outcome.
    pub inputs: VerdictInputs,
    /// The verdict for this seed.
    pub outcome: rules::VerdictOutcome,
}

/// A run's train − test gap.
fn gap(r: &Row) -> f64 {
    r.train_acc - r.acc
}

/// Stage 4's analysis per ENN seed, and he − bp. `cells` are stage 4's, in the order of
/// `design::confirmation_cells`: bp, l1, he, the control, gi.
pub fn confirmation(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    cells: &[Cell],
) -> Result<(Paired, Vec<Confirmation>)> {
    let bp = accuracy(all, 4, "bp");
    let he = accuracy(all, 4, "he");
    let he_bp = paired(cfg, "4/he-bp", &he, &bp);
    let ctl = accuracy(all, 4, &cells[3].name);
    let gi = &cells[4].name;
    let bp_gap = by_seed(all, 4, "bp", EnnSeeds::Mean, gap);
    let mut out = Vec::new();
    for &e in &cfg.confirm_enn_seeds {
        let e = cfg.seed_of(e);
        let only = EnnSeeds::Only(Some(e));
        let g = by_seed(all, 4, gi, only, |r| r.acc);
        let gain = paired(cfg, &format!("4/gi-bp/{e}"), &g, &bp);
        let vs_ctl = paired(cfg, &format!("4/gi-control/{e}"), &g, &ctl);
        let seeds: Vec<u64> = g.keys().filter(|s| he.contains_key(s)).copied().collect();
        let gv: Vec<f64> = seeds.iter().map(|s| 100.0 * g[s]).collect();
        let hv: Vec<f64> = seeds.iter().map(|s| 100.0 * he[s]).collect();
        let tost_p = crate::stats::tost_paired(&gv, &hv, TOST_MARGIN)?.p;
        let g_gap = by_seed(all, 4, gi, only, gap);
        let gap_diff = paired(cfg, &format!("4/gap/{e}"), &g_gap, &bp_gap);
        // The secondary family of the pre-registration: control, TOST, gap.
        let holm = crate::stats::holm(&[vs_ctl.p, tost_p, gap_diff.p])?;
        let inputs = VerdictInputs {
            he_minus_bp: he_bp.diff,
            gain: gain.diff,
            gain_ci_lo: gain.ci.0,
            tost_p_holm: holm[1],
            control_diff: vs_ctl.diff,
            control_p_holm: holm[0],
        };
        out.push(Confirmation {
            enn_seed: e,
            outcome: rules::verdict(&inputs),
            gain,
            control: (vs_ctl, holm[0]),
            tost: (tost_p, holm[1]),
            gap: (gap_diff, holm[2]),
            inputs,
        });
    }
    Ok((he_bp, out))
}

/// The study's verdict (the weaker of the ENN seeds'), if stage 4 is complete.
pub fn study_verdict(cfg: &StudyConfig, all: &BTreeMap<Key, Row>) -> Result<Option<Verdict>> {
    let Some(cells) = super::super::runner::plan(cfg, Stage::Confirmation, all)? else {
        return Ok(None);
    };
    if !super::super::runner::complete(cfg, 4, &cells, all) {
        return Ok(None);
    }
    let (_, conf) = confirmation(cfg, all, &cells)?;
    Ok(Some(rules::combine(
        &conf.iter().map(|c| c.outcome.verdict).collect::<Vec<_>>(),
    )))
}
