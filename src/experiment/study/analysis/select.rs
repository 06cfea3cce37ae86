//! What the pre-registered rules of stages 1–3 are fed from the rows, and what they select:
//! the regime (stage 1), the best control (stage 2), the ENN cell (stage 3).

use super::super::design::{Cell, CellEval, CONTROLS};
use super::super::rows::{Key, Row};
use super::super::rules::{self, GainCandidate, RegimeCandidate};
use super::super::StudyConfig;
use super::paired::{against_bp, by_seed, EnnSeeds, Paired};
use crate::error::{Error, Result};
use std::collections::BTreeMap;

/// Stage 1's configurations (depth, epochs) with bp's and he's mean S_val accuracy (pp)
/// after that many epochs (the rows' curves), in the order depth, then epochs.
pub fn regime_candidates(cfg: &StudyConfig, all: &BTreeMap<Key, Row>) -> Vec<RegimeCandidate> {
    let mut out = Vec::new();
    for &d in &cfg.depths {
        for e in 1..=cfg.calibration_epochs {
            let mean = |arm: &str| {
                let v: Vec<f64> = by_seed(all, 1, &format!("d{d}/{arm}"), EnnSeeds::Mean, |r| {
                    r.curve.get(e - 1).copied().unwrap_or(f64::NAN)
                })
                .into_values()
                .map(|x| 100.0 * x)
                .collect();
                if v.is_empty() {
                    f64::NAN
                } else {
                    crate::stats::mean(&v)
                }
            };
            out.push(RegimeCandidate {
                depth: d,
                epochs: e,
                bp: mean("bp"),
                he: mean("he"),
            });
        }
    }
    out
}

/// The regime (depth, epochs) stage 1's rule selects.
pub fn regime(cfg: &StudyConfig, all: &BTreeMap<Key, Row>) -> Result<(usize, usize)> {
    let c = regime_candidates(cfg, all);
    let i = rules::select_regime(&c)
        .ok_or_else(|| Error::invalid("study", "stage 1 has no finite configuration"))?;
    Ok((c[i].depth, c[i].epochs))
}

/// Stage 2's best control (by [`rules::select_best`] over [`CONTROLS`], in that order).
pub fn best_control(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    ceilings: &[Cell],
) -> Result<Cell> {
    let cands: Vec<GainCandidate> = CONTROLS
        .iter()
        .enumerate()
        .map(|(order, name)| GainCandidate {
            mean_gain: against_bp(cfg, all, 2, name, name).diff,
            rho: None,
            order,
        })
        .collect();
    let i = rules::select_best(&cands)
        .ok_or_else(|| Error::invalid("study", "stage 2 has no finite control"))?;
    find(ceilings, CONTROLS[i])
}

/// The cell called `name`.
pub fn find(cells: &[Cell], name: &str) -> Result<Cell> {
    cells
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .ok_or_else(|| Error::invalid("study", format!("no cell {name}")))
}

/// The ENN cells of stage 3 with their paired gain over bp (each MLP seed's accuracy the
/// mean over the ENN seeds).
pub fn variant_gains(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    variants: &[Cell],
) -> Vec<(Cell, Paired)> {
    variants
        .iter()
        .filter(|c| matches!(c.eval, CellEval::Enn { .. }))
        .map(|c| (c.clone(), against_bp(cfg, all, 3, &c.name, &c.name)))
        .collect()
}

/// Stage 3's selected cell (by [`rules::select_best`]: highest gain, then smaller ρ, then
/// the variants' order).
pub fn selected_variant(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    variants: &[Cell],
) -> Result<Cell> {
    let gains = variant_gains(cfg, all, variants);
    let cands: Vec<GainCandidate> = gains
        .iter()
        .map(|(c, p)| GainCandidate {
            mean_gain: p.diff,
            rho: c.rho(),
            order: match c.eval {
                CellEval::Enn { variant, .. } => variant.order(),
                _ => usize::MAX,
            },
        })
        .collect();
    let i = rules::select_best(&cands)
        .ok_or_else(|| Error::invalid("study", "stage 3 has no finite cell"))?;
    Ok(gains[i].0.clone())
}
