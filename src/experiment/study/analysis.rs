//! The study's statistics and report: every stage's table from the rows, the selections
//! (by [`rules`](mod@super::rules)) and the verdict.

use super::design::{Cell, CellEval, Stage, Variant, CONTROLS};
use super::rows::{Key, Row};
use super::rules::{
    self, GainCandidate, RegimeCandidate, Verdict, VerdictInputs, ALPHA, BOOTSTRAP_RESAMPLES,
    CI_LEVEL, TOST_MARGIN,
};
use super::{design, StudyConfig};
use crate::error::{Error, Result};
use crate::report::{fmt_fixed, fmt_mean_std, fmt_p_value, Report, Table};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::BTreeMap;
use std::path::Path;

/// The statistics of `crate::stats` (checked against scipy there) in the study's terms.
mod stat {
    use crate::error::Result;
    use rand::Rng;

    /// Two-sided paired t-test p of `a − b`.
    pub fn paired_p(a: &[f64], b: &[f64]) -> Result<f64> {
        Ok(crate::stats::paired_t_test(a, b)?.p_two_sided)
    }

    /// TOST p of the paired differences `a − b` against `±margin`.
    pub fn tost_p(a: &[f64], b: &[f64], margin: f64) -> Result<f64> {
        Ok(crate::stats::tost_paired(a, b, margin)?.p)
    }

    /// Percentile bootstrap CI of the mean of `d`.
    pub fn bootstrap(
        d: &[f64],
        resamples: usize,
        level: f64,
        rng: &mut impl Rng,
    ) -> Result<(f64, f64)> {
        let ci = crate::stats::bootstrap_mean_ci(d, resamples, level, rng)?;
        Ok((ci.lo, ci.hi))
    }

    /// Holm's step-down adjusted p-values.
    pub fn holm(ps: &[f64]) -> Result<Vec<f64>> {
        crate::stats::holm(ps)
    }
}

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

/// FNV-1a of a name: the bootstrap seed of a comparison.
fn name_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| {
        (h ^ b as u64).wrapping_mul(0x0100_0000_01b3)
    })
}

/// A − B over the seeds both have (values in [0, 1], reported in pp).
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
    Paired {
        n: d.len(),
        mean_a: crate::stats::mean(&av),
        sd_a: crate::stats::std_dev(&av),
        diff: crate::stats::mean(&d),
        ci: stat::bootstrap(&d, BOOTSTRAP_RESAMPLES, CI_LEVEL, &mut rng)
            .unwrap_or((f64::NAN, f64::NAN)),
        p: stat::paired_p(&av, &bv).unwrap_or(f64::NAN),
    }
}

/// Accuracy by MLP seed of a cell, averaged over its ENN seeds (or of one ENN seed).
fn by_seed(
    all: &BTreeMap<Key, Row>,
    stage: u8,
    cell: &str,
    enn_seed: Option<Option<u64>>,
    value: impl Fn(&Row) -> f64,
) -> BTreeMap<u64, f64> {
    let mut acc: BTreeMap<u64, (f64, usize)> = BTreeMap::new();
    for r in all.values() {
        if r.stage == stage && r.cell == cell && enn_seed.is_none_or(|e| r.enn_seed == e) {
            let e = acc.entry(r.seed).or_insert((0.0, 0));
            e.0 += value(r);
            e.1 += 1;
        }
    }
    acc.into_iter()
        .map(|(s, (v, n))| (s, v / n as f64))
        .collect()
}

fn acc_of(r: &Row) -> f64 {
    r.acc
}

/// Stage 1's configurations (depth, epochs) with bp's and he's mean S_val accuracy (pp).
pub fn regime_candidates(cfg: &StudyConfig, all: &BTreeMap<Key, Row>) -> Vec<RegimeCandidate> {
    let mut out = Vec::new();
    for &d in &cfg.depths {
        for e in 1..=cfg.calibration_epochs {
            let mean = |arm: &str| {
                let v: Vec<f64> = by_seed(all, 1, &format!("d{d}/{arm}"), None, |r| {
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

/// The regime stage 1's rule selects.
pub fn regime(cfg: &StudyConfig, all: &BTreeMap<Key, Row>) -> Result<(usize, usize)> {
    let c = regime_candidates(cfg, all);
    let i = rules::select_regime(&c)
        .ok_or_else(|| Error::invalid("study", "stage 1 has no finite configuration"))?;
    Ok((c[i].depth, c[i].epochs))
}

/// Stage 2's best control (by [`rules::select_best`] over [`CONTROLS`]).
pub fn best_control(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    ceilings: &[Cell],
) -> Result<Cell> {
    let bp = by_seed(all, 2, "bp", None, acc_of);
    let cands: Vec<GainCandidate> = CONTROLS
        .iter()
        .enumerate()
        .map(|(order, name)| GainCandidate {
            mean_gain: paired(cfg, name, &by_seed(all, 2, name, None, acc_of), &bp).diff,
            rho: None,
            order,
        })
        .collect();
    let i = rules::select_best(&cands)
        .ok_or_else(|| Error::invalid("study", "stage 2 has no finite control"))?;
    find(ceilings, CONTROLS[i])
}

fn find(cells: &[Cell], name: &str) -> Result<Cell> {
    cells
        .iter()
        .find(|c| c.name == name)
        .cloned()
        .ok_or_else(|| Error::invalid("study", format!("no cell {name}")))
}

/// The ENN cells of stage 3 with their mean paired gain over bp.
fn variant_gains(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    variants: &[Cell],
) -> Vec<(Cell, Paired)> {
    let bp = by_seed(all, 3, "bp", None, acc_of);
    variants
        .iter()
        .filter(|c| matches!(c.eval, CellEval::Enn { .. }))
        .map(|c| {
            let p = paired(cfg, &c.name, &by_seed(all, 3, &c.name, None, acc_of), &bp);
            (c.clone(), p)
        })
        .collect()
}

/// Stage 3's selected cell.
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

fn pp(x: f64) -> String {
    fmt_fixed(x, 2)
}

fn ci(c: (f64, f64)) -> String {
    format!("[{}, {}]", pp(c.0), pp(c.1))
}

fn rate_text(all: &BTreeMap<Key, Row>, stage: u8, cell: &str) -> String {
    let mut rates: BTreeMap<Option<u64>, f64> = BTreeMap::new();
    for r in all.values() {
        if r.stage == stage && r.cell == cell && !r.rate.is_nan() {
            rates.insert(r.enn_seed, r.rate);
        }
    }
    if rates.is_empty() {
        return "—".into();
    }
    rates
        .values()
        .map(|v| format!("{v:.3e}"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// A cell's name, its comparison with bp and the Holm-adjusted p.
type NamedPaired = (String, Paired, f64);

/// A table of cells against bp with Holm across the rows.
fn against_bp(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    stage: u8,
    cells: &[&Cell],
) -> Result<(Table, Vec<NamedPaired>)> {
    let bp = by_seed(all, stage, "bp", None, acc_of);
    let mut out = Vec::new();
    for c in cells {
        let a = by_seed(all, stage, &c.name, None, acc_of);
        out.push((
            c.name.clone(),
            paired(cfg, &format!("{stage}/{}", c.name), &a, &bp),
        ));
    }
    // The family: every cell against bp (bp itself is not a test).
    let tested: Vec<usize> = (0..out.len()).filter(|&i| out[i].0 != "bp").collect();
    let adj = stat::holm(&tested.iter().map(|&i| out[i].1.p).collect::<Vec<_>>())?;
    let mut holm = vec![f64::NAN; out.len()];
    for (k, &i) in tested.iter().enumerate() {
        holm[i] = adj[k];
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
    for ((name, p), h) in out.into_iter().zip(holm) {
        let is_bp = name == "bp";
        t.push_row([
            name.clone(),
            rate_text(all, stage, &name),
            p.n.to_string(),
            fmt_mean_std(p.mean_a, p.sd_a, 2),
            if is_bp { "—".into() } else { pp(p.diff) },
            if is_bp { "—".into() } else { ci(p.ci) },
            if is_bp {
                "—".into()
            } else {
                fmt_p_value(p.p)
            },
            if is_bp { "—".into() } else { fmt_p_value(h) },
        ])?;
        res.push((name, p, h));
    }
    Ok((t, res))
}

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

/// Stage 4's analysis per ENN seed, and he − bp.
pub fn confirmation(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    cells: &[Cell],
) -> Result<(Paired, Vec<Confirmation>)> {
    let bp = by_seed(all, 4, "bp", None, acc_of);
    let he = by_seed(all, 4, "he", None, acc_of);
    let he_bp = paired(cfg, "4/he-bp", &he, &bp);
    let control = &cells[3].name;
    let gi = &cells[4].name;
    let ctl = by_seed(all, 4, control, None, acc_of);
    let gap = |r: &Row| r.train_acc - r.acc;
    let bp_gap = by_seed(all, 4, "bp", None, gap);
    let mut out = Vec::new();
    for &e in &cfg.confirm_enn_seeds {
        let e = cfg.seed_of(e);
        let g = by_seed(all, 4, gi, Some(Some(e)), acc_of);
        let gain = paired(cfg, &format!("4/gi-bp/{e}"), &g, &bp);
        let vs_ctl = paired(cfg, &format!("4/gi-control/{e}"), &g, &ctl);
        let seeds: Vec<u64> = g.keys().filter(|s| he.contains_key(s)).copied().collect();
        let gv: Vec<f64> = seeds.iter().map(|s| 100.0 * g[s]).collect();
        let hv: Vec<f64> = seeds.iter().map(|s| 100.0 * he[s]).collect();
        let tost_p = stat::tost_p(&gv, &hv, TOST_MARGIN)?;
        let g_gap = by_seed(all, 4, gi, Some(Some(e)), gap);
        let gap_diff = paired(cfg, &format!("4/gap/{e}"), &g_gap, &bp_gap);
        let holm = stat::holm(&[vs_ctl.p, tost_p, gap_diff.p])?;
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

/// The study's verdict, if stage 4 is complete.
pub fn study_verdict(cfg: &StudyConfig, all: &BTreeMap<Key, Row>) -> Result<Option<Verdict>> {
    let Some(cells) = super::runner::plan(cfg, Stage::Confirmation, all)? else {
        return Ok(None);
    };
    if !super::runner::complete(cfg, 4, &cells, all) {
        return Ok(None);
    }
    let (_, conf) = confirmation(cfg, all, &cells)?;
    Ok(Some(rules::combine(
        &conf.iter().map(|c| c.outcome.verdict).collect::<Vec<_>>(),
    )))
}

fn cell_description(c: &Cell) -> String {
    match c.eval {
        CellEval::Oracle { layers, rho } => format!("oracle on {layers:?} at ρ = {rho}"),
        CellEval::Enn { variant, rho, .. } => format!("{} at ρ = {rho}", variant.name()),
        CellEval::None => c.name.clone(),
    }
}

/// Writes `study.md` and `study.html` for the stages whose rows are complete.
pub fn write_report(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    out: &Path,
    command: &str,
) -> Result<()> {
    let mut r = Report::new("Grad-Instructor reproduction study (docs/study.md)");
    r.paragraph(
        "Pre-registered in docs/study.md; selection and verdict rules in \
         src/experiment/study/rules.rs. Accuracies in %, differences in percentage points (pp), \
         paired by MLP seed; CIs: percentile bootstrap, 10,000 seeded resamples; p: paired \
         t-test, Holm within each table's family.",
    );
    r.code(command.to_string());
    let rows_total = all.len();
    // Stage 1.
    r.heading("Stage 1 — calibration");
    let calib = design::calibration_cells(cfg);
    let c1 = super::runner::complete(cfg, 1, &calib, all);
    let cands = regime_candidates(cfg, all);
    let mut t = Table::new([
        "depth",
        "epochs",
        "bp (%)",
        "he (%)",
        "he − bp (pp)",
        "distance",
        "",
    ]);
    let sel = if c1 {
        rules::select_regime(&cands)
    } else {
        None
    };
    for (i, c) in cands.iter().enumerate() {
        let mark = match (Some(i) == sel, (c.depth, c.epochs) == cfg.secondary) {
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
    r.table(&t);
    if !c1 {
        r.paragraph("Stage 1 is incomplete (rows missing); later stages wait for it.");
        return finish(r, out, rows_total);
    }
    let (d, e) = regime(cfg, all)?;
    r.paragraph(format!(
        "Selected regime (distance to He = 93.0, He − BP = 2.8): {} hidden layer(s) of {}, {e} \
         epoch(s), on S_val with {} seeds. Cross-check against PyTorch: `python3 \
         benches/compare/mnist_mlp_torch.py accuracy --hidden {} --epochs {e} --seeds 5` \
         (test set, 60,000 training images) against stage 4's bp and he.",
        d,
        cfg.width,
        cfg.calibration_seeds.len(),
        vec![cfg.width.to_string(); d].join(","),
    ));
    // Stage 2.
    r.heading("Stage 2 — ceilings");
    let ceilings = design::ceiling_cells(cfg, d, e);
    let c2 = super::runner::complete(cfg, 2, &ceilings, all);
    let refs: Vec<&Cell> = ceilings.iter().collect();
    let (t, res) = against_bp(cfg, all, 2, &refs)?;
    r.table(&t);
    let gain_of = |name: &str| {
        res.iter()
            .find(|x| x.0 == name)
            .map_or(f64::NAN, |x| x.1.diff)
    };
    let he_gain = gain_of("he");
    let best = |prefix: &str| {
        res.iter()
            .filter(|x| x.0.starts_with(prefix))
            .map(|x| (x.1.diff, x.0.clone()))
            .fold((f64::NAN, String::new()), |a, b| {
                if a.0.is_nan() || b.0 > a.0 {
                    b
                } else {
                    a
                }
            })
    };
    let (o1, o1n) = best("oracle_w1@");
    let (oa, oan) = best("oracle_all@");
    r.paragraph(format!(
        "He's gain over bp: {} pp. Share of it reached by He init on W1 alone (he_w1): {} pp \
         ({:.0} %); by He on every other layer (he_rest): {} pp; by the default init scaled \
         to He's variance: {} pp. Oracle ceiling on W1: {} pp ({o1n}); on all layers: {} pp \
         ({oan}).",
        pp(he_gain),
        pp(gain_of("he_w1")),
        100.0 * gain_of("he_w1") / he_gain,
        pp(gain_of("he_rest")),
        pp(gain_of("scaled")),
        pp(o1),
        pp(oa),
    ));
    if !c2 {
        r.paragraph("Stage 2 is incomplete.");
    } else {
        let ctl = best_control(cfg, all, &ceilings)?;
        r.paragraph(format!(
            "Best control (highest mean gain among {}): {}.",
            CONTROLS.join(", "),
            ctl.name
        ));
    }
    // Stage 3.
    r.heading("Stage 3 — variants");
    let variants = design::variant_cells(cfg, d, e);
    let c3 = super::runner::complete(cfg, 3, &variants, all);
    let refs: Vec<&Cell> = variants.iter().collect();
    let (t, _) = against_bp(cfg, all, 3, &refs)?;
    r.table(&t);
    r.paragraph(
        "rate: le (or the fraction) per ENN seed, calibrated so the term is ρ × the loss term \
         at step 0. Each MLP seed's accuracy is the mean over the two ENN seeds.",
    );
    if c3 {
        let s = selected_variant(cfg, all, &variants)?;
        r.paragraph(format!(
            "Selected cell (highest mean paired gain over bp): {} ({}).",
            s.name,
            cell_description(&s)
        ));
        if c2 {
            // The multiplicative coupling against the best control, on stage 3's seeds.
            let ctl = best_control(cfg, all, &ceilings)?;
            let cb = by_seed(all, 3, &ctl.name, None, acc_of);
            let mut t = Table::new([
                "cell",
                "Δ vs control (pp)",
                "95% CI",
                "p (paired t)",
                "p (Holm)",
            ]);
            let mults: Vec<(String, Paired)> = variants
                .iter()
                .filter(|c| {
                    matches!(
                        c.eval,
                        CellEval::Enn {
                            variant: Variant::Mult,
                            ..
                        }
                    )
                })
                .map(|c| {
                    let a = by_seed(all, 3, &c.name, None, acc_of);
                    (
                        c.name.clone(),
                        paired(cfg, &format!("3/{}-control", c.name), &a, &cb),
                    )
                })
                .collect();
            let holm = stat::holm(&mults.iter().map(|m| m.1.p).collect::<Vec<_>>())?;
            for ((name, p), h) in mults.iter().zip(holm) {
                t.push_row([
                    name.clone(),
                    pp(p.diff),
                    ci(p.ci),
                    fmt_p_value(p.p),
                    fmt_p_value(h),
                ])?;
            }
            r.paragraph(format!(
                "The multiplicative coupling against the best control ({}):",
                ctl.name
            ));
            r.table(&t);
        }
    } else {
        r.paragraph("Stage 3 is incomplete.");
    }
    // Stage 4.
    r.heading("Stage 4 — confirmation");
    let Some(cells) = super::runner::plan(cfg, Stage::Confirmation, all)? else {
        r.paragraph("Stage 4 waits for stages 2 and 3.");
        r.heading("Stage 5 — verdict");
        r.paragraph("No verdict: stage 4 has not run.");
        return finish(r, out, rows_total);
    };
    let mut t = Table::new([
        "arm",
        "runs",
        "test acc (%)",
        "train acc (%)",
        "train−test gap (pp)",
    ]);
    for c in &cells {
        let rs: Vec<&Row> = all
            .values()
            .filter(|r| r.stage == 4 && r.cell == c.name)
            .collect();
        let v = |f: &dyn Fn(&Row) -> f64| -> Vec<f64> { rs.iter().map(|r| 100.0 * f(r)).collect() };
        let ms = |x: Vec<f64>| {
            if x.is_empty() {
                "—".to_string()
            } else {
                fmt_mean_std(crate::stats::mean(&x), crate::stats::std_dev(&x), 2)
            }
        };
        t.push_row([
            c.name.clone(),
            rs.len().to_string(),
            ms(v(&|r| r.acc)),
            ms(v(&|r| r.train_acc)),
            ms(v(&|r| r.train_acc - r.acc)),
        ])?;
    }
    r.table(&t);
    let c4 = super::runner::complete(cfg, 4, &cells, all);
    if !c4 {
        r.paragraph("Stage 4 is incomplete.");
        r.heading("Stage 5 — verdict");
        r.paragraph("No verdict: stage 4 is incomplete.");
        return finish(r, out, rows_total);
    }
    let (he_bp, conf) = confirmation(cfg, all, &cells)?;
    let mut t = Table::new([
        "ENN seed",
        "comparison",
        "mean (pp)",
        "95% CI",
        "p",
        "p (Holm)",
    ]);
    t.push_row([
        "—".into(),
        "he − bp".to_string(),
        pp(he_bp.diff),
        ci(he_bp.ci),
        fmt_p_value(he_bp.p),
        "—".into(),
    ])?;
    for c in &conf {
        let s = c.enn_seed.to_string();
        t.push_row([
            s.clone(),
            "gi − bp (primary)".into(),
            pp(c.gain.diff),
            ci(c.gain.ci),
            fmt_p_value(c.gain.p),
            "—".into(),
        ])?;
        t.push_row([
            s.clone(),
            "gi − control".into(),
            pp(c.control.0.diff),
            ci(c.control.0.ci),
            fmt_p_value(c.control.0.p),
            fmt_p_value(c.control.1),
        ])?;
        t.push_row([
            s.clone(),
            format!("gi vs he, TOST ±{TOST_MARGIN}"),
            "—".into(),
            "—".into(),
            fmt_p_value(c.tost.0),
            fmt_p_value(c.tost.1),
        ])?;
        t.push_row([
            s,
            "gap(gi) − gap(bp)".into(),
            pp(c.gap.0.diff),
            ci(c.gap.0.ci),
            fmt_p_value(c.gap.0.p),
            fmt_p_value(c.gap.1),
        ])?;
    }
    r.table(&t);
    // Stage 5.
    r.heading("Stage 5 — verdict");
    let verdicts: Vec<Verdict> = conf.iter().map(|c| c.outcome.verdict).collect();
    let v = rules::combine(&verdicts);
    for c in &conf {
        r.paragraph(format!(
            "ENN seed {}: {}{}",
            c.enn_seed,
            c.outcome.verdict.name(),
            if c.outcome.failed.is_empty() {
                String::new()
            } else {
                format!(" — failed: {}", c.outcome.failed.join("; "))
            }
        ));
    }
    r.paragraph(format!(
        "VERDICT: {} (α = {ALPHA}; the weaker of the ENN seeds' verdicts).",
        v.name().to_uppercase()
    ));
    if v == Verdict::NotReproduced {
        r.paragraph(format!(
            "What the ceilings say (stage 2, S_val): He's gain {} pp; He on W1 alone {} pp; the \
             oracle on W1 reaches {} pp, on all layers {} pp.",
            pp(he_gain),
            pp(gain_of("he_w1")),
            pp(o1),
            pp(oa)
        ));
    }
    finish(r, out, rows_total)
}

fn finish(mut r: Report, out: &Path, rows: usize) -> Result<()> {
    r.paragraph(format!("{rows} rows in study.csv."));
    crate::io::atomic::write_atomic(&out.join("study.md"), r.to_markdown("").as_bytes())?;
    crate::io::atomic::write_atomic(&out.join("study.html"), r.to_html().as_bytes())
}
