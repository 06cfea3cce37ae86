//! `study.md` and `study.html`: one section per stage, written for the stages whose rows are
//! complete (a later stage's section says what it waits for).

use super::super::design::{self, Cell, CellEval, Stage, CONTROLS};
use super::super::rows::{Key, Row};
use super::super::rules::{self, Verdict, ALPHA};
use super::super::runner::{complete, plan};
use super::super::StudyConfig;
use super::confirm::confirmation;
use super::select::{best_control, regime, regime_candidates, selected_variant};
use super::tables::{self, pp, NamedPaired};
use crate::error::Result;
use crate::report::Report;
use std::collections::BTreeMap;
use std::path::Path;

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
    if let Some((d, e)) = calibration_section(cfg, all, &mut r)? {
        let ceilings = ceilings_section(cfg, all, &mut r, d, e)?;
        variants_section(cfg, all, &mut r, d, e, ceilings.control.as_ref())?;
        confirmation_sections(cfg, all, &mut r, &ceilings)?;
    }
    r.paragraph(format!("{} rows in study.csv.", all.len()));
    crate::io::atomic::write_atomic(&out.join("study.md"), r.to_markdown("").as_bytes())?;
    crate::io::atomic::write_atomic(&out.join("study.html"), r.to_html().as_bytes())
}

/// Stage 1's section; the selected regime (depth, epochs) once stage 1 is complete.
fn calibration_section(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    r: &mut Report,
) -> Result<Option<(usize, usize)>> {
    r.heading("Stage 1 — calibration");
    let c1 = complete(cfg, 1, &design::calibration_cells(cfg), all);
    let cands = regime_candidates(cfg, all);
    let sel = if c1 {
        rules::select_regime(&cands)
    } else {
        None
    };
    r.table(&tables::regime_table(cfg, &cands, sel)?);
    if !c1 {
        r.paragraph("Stage 1 is incomplete (rows missing); later stages wait for it.");
        return Ok(None);
    }
    let (d, e) = regime(cfg, all)?;
    // The cross-check runs stage 4's protocol (all training images, the test set, as many
    // seeds) in PyTorch; its seeds feed torch's RNG, so the comparison is of means.
    let first = cfg.confirm_seeds.first().map_or(0, |&s| cfg.seed_of(s));
    r.paragraph(format!(
        "Selected regime (distance to He = 93.0, He − BP = 2.8): {} hidden layer(s) of {}, {e} \
         epoch(s), on S_val with {} seeds. Cross-check against PyTorch: `python3 \
         benches/compare/mnist_mlp_torch.py accuracy --hidden {} --epochs {e} --seeds {} \
         --seed-start {first} --arms bp,he` (test set, 60,000 training images) against stage \
         4's bp and he.",
        d,
        cfg.width,
        cfg.calibration_seeds.len(),
        vec![cfg.width.to_string(); d].join(","),
        cfg.confirm_seeds.len(),
    ));
    Ok(Some((d, e)))
}

/// What stage 2 says about any evaluator (pp over bp on S_val), and the best control once
/// stage 2 is complete.
struct Ceilings {
    /// he − bp.
    he: f64,
    /// he_w1 − bp.
    he_w1: f64,
    /// The best oracle_w1 cell's gain.
    oracle_w1: f64,
    /// The best oracle_all cell's gain.
    oracle_all: f64,
    /// The best control (stage 2 complete).
    control: Option<Cell>,
}

/// The highest gain among the cells named `prefix…`, with its name (NaN if none).
fn best_of(res: &[NamedPaired], prefix: &str) -> (f64, String) {
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
}

/// Stage 2's section.
fn ceilings_section(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    r: &mut Report,
    d: usize,
    e: usize,
) -> Result<Ceilings> {
    r.heading("Stage 2 — ceilings");
    let cells = design::ceiling_cells(cfg, d, e);
    let (t, res) = tables::against_bp_table(cfg, all, 2, &cells)?;
    r.table(&t);
    let gain_of = |name: &str| {
        res.iter()
            .find(|x| x.0 == name)
            .map_or(f64::NAN, |x| x.1.diff)
    };
    let (o1, o1n) = best_of(&res, "oracle_w1@");
    let (oa, oan) = best_of(&res, "oracle_all@");
    let he = gain_of("he");
    r.paragraph(format!(
        "He's gain over bp: {} pp. Share of it reached by He init on W1 alone (he_w1): {} pp \
         ({:.0} %); by He on every other layer (he_rest): {} pp; by the default init scaled \
         to He's variance: {} pp. Oracle ceiling on W1: {} pp ({o1n}); on all layers: {} pp \
         ({oan}).",
        pp(he),
        pp(gain_of("he_w1")),
        100.0 * gain_of("he_w1") / he,
        pp(gain_of("he_rest")),
        pp(gain_of("scaled")),
        pp(o1),
        pp(oa),
    ));
    let control = if complete(cfg, 2, &cells, all) {
        let ctl = best_control(cfg, all, &cells)?;
        r.paragraph(format!(
            "Best control (highest mean gain among {}): {}.",
            CONTROLS.join(", "),
            ctl.name
        ));
        Some(ctl)
    } else {
        r.paragraph("Stage 2 is incomplete.");
        None
    };
    Ok(Ceilings {
        he,
        he_w1: gain_of("he_w1"),
        oracle_w1: o1,
        oracle_all: oa,
        control,
    })
}

fn cell_description(c: &Cell) -> String {
    match c.eval {
        CellEval::Oracle { layers, rho } => format!("oracle on {layers:?} at ρ = {rho}"),
        CellEval::Enn { variant, rho, .. } => format!("{} at ρ = {rho}", variant.name()),
        CellEval::None => c.name.clone(),
    }
}

/// Stage 3's section (the `mult` cells against the best control when stage 2 is complete).
fn variants_section(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    r: &mut Report,
    d: usize,
    e: usize,
    control: Option<&Cell>,
) -> Result<()> {
    r.heading("Stage 3 — variants");
    let variants = design::variant_cells(cfg, d, e);
    r.table(&tables::against_bp_table(cfg, all, 3, &variants)?.0);
    r.paragraph(
        "rate: le (or the fraction) per ENN seed, calibrated so the term is ρ × the loss term \
         at step 0. Each MLP seed's accuracy is the mean over the two ENN seeds.",
    );
    if !complete(cfg, 3, &variants, all) {
        r.paragraph("Stage 3 is incomplete.");
        return Ok(());
    }
    let s = selected_variant(cfg, all, &variants)?;
    r.paragraph(format!(
        "Selected cell (highest mean paired gain over bp): {} ({}).",
        s.name,
        cell_description(&s)
    ));
    if let Some(ctl) = control {
        let t = tables::mult_vs_control_table(cfg, all, &variants, ctl)?;
        r.paragraph(format!(
            "The multiplicative coupling against the best control ({}):",
            ctl.name
        ));
        r.table(&t);
    }
    Ok(())
}

/// Stage 4's and stage 5's sections (the verdict once stage 4 is complete).
fn confirmation_sections(
    cfg: &StudyConfig,
    all: &BTreeMap<Key, Row>,
    r: &mut Report,
    ceilings: &Ceilings,
) -> Result<()> {
    r.heading("Stage 4 — confirmation");
    let Some(cells) = plan(cfg, Stage::Confirmation, all)? else {
        r.paragraph("Stage 4 waits for stages 2 and 3.");
        r.heading("Stage 5 — verdict");
        r.paragraph("No verdict: stage 4 has not run.");
        return Ok(());
    };
    r.table(&tables::arms_table(all, &cells)?);
    if !complete(cfg, 4, &cells, all) {
        r.paragraph("Stage 4 is incomplete.");
        r.heading("Stage 5 — verdict");
        r.paragraph("No verdict: stage 4 is incomplete.");
        return Ok(());
    }
    let (he_bp, conf) = confirmation(cfg, all, &cells)?;
    r.table(&tables::confirmation_table(&he_bp, &conf)?);
    r.heading("Stage 5 — verdict");
    for c in &conf {
        let failed = if c.outcome.failed.is_empty() {
            String::new()
        } else {
            format!(" — failed: {}", c.outcome.failed.join("; "))
        };
        let verdict = c.outcome.verdict.name();
        r.paragraph(format!("ENN seed {}: {verdict}{failed}", c.enn_seed));
    }
    let v = rules::combine(&conf.iter().map(|c| c.outcome.verdict).collect::<Vec<_>>());
    r.paragraph(format!(
        "VERDICT: {} (α = {ALPHA}; the weaker of the ENN seeds' verdicts).",
        v.name().to_uppercase()
    ));
    if v == Verdict::NotReproduced {
        r.paragraph(format!(
            "What the ceilings say (stage 2, S_val): He's gain {} pp; He on W1 alone {} pp; the \
             oracle on W1 reaches {} pp, on all layers {} pp.",
            pp(ceilings.he),
            pp(ceilings.he_w1),
            pp(ceilings.oracle_w1),
            pp(ceilings.oracle_all)
        ));
    }
    Ok(())
}
