//! Paired comparisons over MLP seeds: the rows of a cell as accuracies by seed, and A − B with
//! its bootstrap CI and paired t-test (`docs/study.md`, "Statistics").

use super::super::rows::{Key, Row};
use super::super::rules::{BOOTSTRAP_RESAMPLES, CI_LEVEL};
use super::super::StudyConfig;
use crate::error::Result;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeMap;

/// A paired comparison A − B over MLP seeds, in percentage points.
#[derive(Clone, Debug, PartialEq)]
pub struct Paired {
    /// Pairs.
    pub n: usize,
    /// Mean of A (pp).
    pub mean_a: f64,
    /// Sample sd of A (pp).
    pub sd_a: f64,
    /// Mean paired difference (pp).
    pub diff: f64,
    /// Bootstrap CI of the mean difference (pp).
    pub ci: (f64, f64),
    /// Two-sided paired t p.
    pub p: f64,
}

/// FNV-1a of a name: the bootstrap seed of a comparison (study seed ^ this), so every CI is
/// reproducible and two comparisons do not share resamples.
fn name_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A − B over the seeds both have (values in [0, 1], reported in pp); `name` seeds the
/// bootstrap.
pub fn paired(
    cfg: &StudyConfig,
    name: &str,
    a: &BTreeMap<u64, f64>,
    b: &BTreeMap<u64, f64>,
) -> Paired {
    let seeds: Vec<u64> = a.keys().filter(|s| b.contains_key(s)).copied().collect();
    let av: Vec<f64> = seeds.iter().map(|s| 100.0 * a[s]).collect();
    let bv: Vec<f64> = seeds.iter().map(|s| 100.0 * b[s]).collect();
    let d: Vec<f64> = seeds.iter().map(|s| 100.0 * (a[s] - b[s])).collect();
    let mut rng = StdRng::seed_from_u64(cfg.seed ^ name_hash(name));
    // The samples have equal lengths by construction and the constants are valid, so the
    // statistics cannot fail; an undefined test (n < 2) gives NaN.
    let ci = crate::stats::bootstrap_mean_ci(&d, BOOTSTRAP_RESAMPLES, CI_LEVEL, &mut rng)
        .map_or((f64::NAN, f64::NAN), |c| (c.lo, c.hi));
    Paired {
        n: d.len(),
        mean_a: crate::stats::mean(&av),
        sd_a: crate::stats::std_dev(&av),
        diff: crate::stats::mean(&d),
        ci,
        p: paired_p(&av, &bv).unwrap_or(f64::NAN),
    }
}

/// Two-sided paired t-test p of `a − b` (`crate::stats`, checked against scipy there).
pub fn paired_p(a: &[f64], b: &[f64]) -> Result<f64> {
    Ok(crate::stats::paired_t_test(a, b)?.p_two_sided)
}

/// Which ENN seeds of a cell to read: all of them (averaged per MLP seed), or one.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum EnnSeeds {
    /// Every row of the cell; an MLP seed's value is the mean over its ENN seeds.
    Mean,
    /// Only the rows with this ENN seed (`None`: the rows without an ENN).
    Only(Option<u64>),
}

/// `value` of a cell's rows in a stage, by MLP seed.
pub fn by_seed(
    all: &BTreeMap<Key, Row>,
    stage: u8,
    cell: &str,
    enn_seeds: EnnSeeds,
    value: impl Fn(&Row) -> f64,
) -> BTreeMap<u64, f64> {
    let mut acc: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
    for r in all.values() {
        let wanted = match enn_seeds {
            EnnSeeds::Mean => true,
            EnnSeeds::Only(e) => r.enn_seed == e,
        };
        if r.stage == stage && r.cell == cell && wanted {
            let e = acc.entry(r.seed).or_insert((0.0, 0));
            e.0 += value(r);
            e.1 += 1;
        }
    }
    acc.into_iter()
        .map(|(s, (v, n))| (s, v / n as f64))
        .collect()
}

/// A cell's evaluation accuracy by MLP seed, averaged over its ENN seeds.
pub fn accuracy(all: &BTreeMap<Key, Row>, stage: u8, cell: &str) -> BTreeMap<u64, f64> {
    by_seed(all, stage, cell, EnnSeeds::Mean, |r| r.acc)
}

/// A cell against bp of the same stage, both by [`accuracy`]; `name` seeds the bootstrap.
pub fn against_bp(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    stage: u8,
    cell: &str,
    name: &str,
) -> Paired {
    paired(
        cfg,
        name,
        &accuracy(all, stage, cell),
        &accuracy(all, stage, "bp"),
    )
}
