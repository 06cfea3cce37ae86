//! The report's tables, built from the rows and the analysis; every comparison row is
//! written by `comparison` (mean difference, CI, p, Holm p — or dashes where a cell is not
//! tested).

use super::super::design::{Cell, CellEval, Variant};
use super::super::rows::{Key, Row};
use super::super::rules::{RegimeCandidate, TOST_MARGIN};
use super::super::StudyConfig;
use super::confirm::Confirmation;
use super::paired::{accuracy, paired, Paired};
use crate::error::Result;
use crate::report::{fmt_fixed, fmt_mean_std, fmt_p_value, Table};
use std::collections::BTreeMap;

/// A cell that holds no value (bp against itself, a CI that TOST does not have).
const DASH: &str = "—";

/// Percentage points with two decimals.
pub fn pp(x: f64) -> String {
    fmt_fixed(x, 2)
}

fn ci(c: (f64, f64)) -> String {
    format!("[{}, {}]", pp(c.0), pp(c.1))
}

/// The four cells of a comparison: mean difference (pp), 95 % CI, p, Holm-adjusted p
/// (`None`: not in a Holm family, a dash).
fn comparison(p: &Paired, holm: Option<f64>) -> [String; 4] {
    [
        pp(p.diff),
        ci(p.ci),
        fmt_p_value(p.p),
        holm.map_or(DASH.into(), fmt_p_value),
    ]
}

/// Holm's adjusted p of each comparison, in order.
fn holm(ps: &[f64]) -> Result<Vec<f64>> {
    crate::stats::holm(ps)
}

/// The rate (le or fraction) of each ENN seed's runs of a cell, or a dash.
fn rate_text(all: &BTreeMap<Key, Row>, stage: u8, cell: &str) -> String {
    let mut rates: BTreeMap<Option<u64>, f64> = BTreeMap::new();
    for r in all.values() {
        if r.stage == stage && r.cell == cell && !r.rate.is_nan() {
            rates.insert(r.enn_seed, r.rate);
        }
    }
    if rates.is_empty() {
        return DASH.into();
    }
    rates
        .values()
        .map(|v| format!("{v:.3e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// Stage 1's table: every configuration, the selected one and the secondary one marked.
pub fn regime_table(
    cfg: &StudyConfig,
    cands: &[RegimeCandidate],
    selected: Option<usize>,
) -> Result<Table> {
    let mut t = Table::new([
        "depth",
        "epochs",
        "bp (%)",
        "he (%)",
        "he − bp (pp)",
        "distance",
        "",
    ]);
    for (i, c) in cands.iter().enumerate() {
        let mark = match (Some(i) == selected, (c.depth, c.epochs) == cfg.secondary) {
            (true, _) => "selected",
            (false, true) => "secondary",
            _ => "",
        };
        t.push_row([
            c.depth.to_string(),
            c.epochs.to_string(),
            pp(c.bp),
            pp(c.he),
            pp(c.he - c.bp),
            fmt_fixed(c.distance(), 2),
            mark.to_string(),
        ])?;
    }
    Ok(t)
}

/// A cell's name, its comparison with bp and the Holm-adjusted p.
pub type NamedPaired = (String, Paired, f64);

/// Stage 2's or 3's table: every cell against bp, Holm across the cells (bp itself is not
/// a test).
pub fn against_bp_table(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    stage: u8,
    cells: &[Cell],
) -> Result<(Table, Vec<NamedPaired>)> {
    let bp = accuracy(all, stage, "bp");
    let out: Vec<(String, Paired)> = cells
        .iter()
        .map(|c| {
            let a = accuracy(all, stage, &c.name);
            let p = paired(cfg, &format!("{stage}/{}", c.name), &a, &bp);
            (c.name.clone(), p)
        })
        .collect();
    let tested: Vec<usize> = (0..out.len()).filter(|&i| out[i].0 != "bp").collect();
    let adj = holm(&tested.iter().map(|&i| out[i].1.p).collect::<Vec<_>>())?;
    let mut holm_of = vec![f64::NAN; out.len()];
    for (k, &i) in tested.iter().enumerate() {
        holm_of[i] = adj[k];
    }
    let mut t = Table::new([
        "cell",
        "rate",
        "n",
        "acc (%)",
        "Δ vs bp (pp)",
        "95% CI",
        "p (paired t)",
        "p (Holm)",
    ]);
    let mut res = Vec::new();
    for ((name, p), h) in out.into_iter().zip(holm_of) {
        let cmp = if name == "bp" {
            [DASH; 4].map(String::from)
        } else {
            comparison(&p, Some(h))
        };
        let head = [
            name.clone(),
            rate_text(all, stage, &name),
            p.n.to_string(),
            fmt_mean_std(p.mean_a, p.sd_a, 2),
        ];
        t.push_row(head.into_iter().chain(cmp))?;
        res.push((name, p, h));
    }
    Ok((t, res))
}

/// Stage 3's `mult` cells against the best control on stage 3's seeds, Holm across them.
pub fn mult_vs_control_table(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    variants: &[Cell],
    control: &Cell,
) -> Result<Table> {
    let cb = accuracy(all, 3, &control.name);
    let is_mult = |c: &&Cell| {
        matches!(
            c.eval,
            CellEval::Enn {
                variant: Variant::Mult,
                ..
            }
        )
    };
    let mults: Vec<(String, Paired)> = variants
        .iter()
        .filter(is_mult)
        .map(|c| {
            let a = accuracy(all, 3, &c.name);
            let name = format!("3/{}-control", c.name);
            (c.name.clone(), paired(cfg, &name, &a, &cb))
        })
        .collect();
    let adj = holm(&mults.iter().map(|m| m.1.p).collect::<Vec<_>>())?;
    let mut t = Table::new([
        "cell",
        "Δ vs control (pp)",
        "95% CI",
        "p (paired t)",
        "p (Holm)",
    ]);
    for ((name, p), h) in mults.iter().zip(adj) {
        t.push_row(std::iter::once(name.clone()).chain(comparison(p, Some(h))))?;
    }
    Ok(t)
}

/// Stage 4's arms: runs, test and train accuracy and their gap (mean ± sd, %).
pub fn arms_table(all: &BTreeMap<Key, Row>, cells: &[Cell]) -> Result<Table> {
    let mut t = Table::new([
        "arm",
        "runs",
        "test acc (%)",
        "train acc (%)",
        "train−test gap (pp)",
    ]);
    for c in cells {
        let rs: Vec<&Row> = all
            .values()
            .filter(|r| r.stage == 4 && r.cell == c.name)
            .collect();
        let ms = |f: &dyn Fn(&Row) -> f64| {
            let x: Vec<f64> = rs.iter().map(|r| 100.0 * f(r)).collect();
            if x.is_empty() {
                DASH.to_string()
            } else {
                fmt_mean_std(crate::stats::mean(&x), crate::stats::std_dev(&x), 2)
            }
        };
        t.push_row([
            c.name.clone(),
            rs.len().to_string(),
            ms(&|r| r.acc),
            ms(&|r| r.train_acc),
            ms(&|r| r.train_acc - r.acc),
        ])?;
    }
    Ok(t)
}

/// Stage 4's comparisons: he − bp, then per ENN seed the primary and the Holm family.
pub fn confirmation_table(he_bp: &Paired, conf: &[Confirmation]) -> Result<Table> {
    let mut t = Table::new([
        "ENN seed",
        "comparison",
        "mean (pp)",
        "95% CI",
        "p",
        "p (Holm)",
    ]);
    let mut row = |seed: &str, what: &str, cells: [String; 4]| {
        t.push_row(
            [seed.to_string(), what.to_string()]
                .into_iter()
                .chain(cells),
        )
    };
    row(DASH, "he − bp", comparison(he_bp, None))?;
    for c in conf {
        let s = c.enn_seed.to_string();
        row(&s, "gi − bp (primary)", comparison(&c.gain, None))?;
        row(
            &s,
            "gi − control",
            comparison(&c.control.0, Some(c.control.1)),
        )?;
        // TOST gives a p, not a difference with a CI.
        let tost = [
            DASH.into(),
            DASH.into(),
            fmt_p_value(c.tost.0),
            fmt_p_value(c.tost.1),
        ];
        row(&s, &format!("gi vs he, TOST ±{TOST_MARGIN}"), tost)?;
        row(&s, "gap(gi) − gap(bp)", comparison(&c.gap.0, Some(c.gap.1)))?;
    }
    Ok(t)
}
