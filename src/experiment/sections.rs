//! The report of a run (`report.html`, `report.md`): one function per section, each drawing
//! the numbers of the run's [`Outcome`] with `crate::report`.

use super::arm::{Arm, GradNormRecord};
use super::explain::Explained;
use super::output::{cpu_description, git_revision, summary_table, timing_line, PAPER};
use super::predict::{Prediction, PREDICTION_ALPHA};
use super::run::Outcome;
use super::summary::RunRecord;
use crate::error::Result;
use crate::instructor::EpisodeLog;
use crate::report::png::{heatmap_png, Colormap, HeatmapOptions, ValueRange};
use crate::report::svg::{line_plot, scatter_plot, LinePlot, ScatterPlot, Series};
use crate::report::table::{fmt_mean_std, fmt_p_value, Table};
use crate::report::Report;
use crate::tensor::Tensor;
use std::path::Path;

fn heatmap(
    values: &Tensor,
    colormap: Colormap,
    range: ValueRange,
    scale: (usize, usize),
) -> Result<Vec<u8>> {
    let (h, w) = values.matrix_dims("heatmap")?;
    let opts = HeatmapOptions {
        colormap,
        range,
        scale_x: scale.0,
        scale_y: scale.1,
        legend: true,
    };
    heatmap_png(values.data(), h, w, &opts)
}

fn max_abs(t: &Tensor) -> f32 {
    t.data().iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

fn gradient_section(r: &mut Report, o: &Outcome) {
    let Some(first) = o
        .results
        .iter()
        .find(|r| r.record.arm == Arm::GradInstructor && !r.grad_norms.is_empty())
    else {
        return;
    };
    let pts = |f: fn(&GradNormRecord) -> f32| {
        first
            .grad_norms
            .iter()
            .map(|g| (g.step as f64, f(g) as f64))
            .collect()
    };
    r.heading("Gradient magnitude by training stage").svg(
        format!("Norms of the two terms of the W1 update during Grad-Instructor training (seed {}): lr·dL/dW1 and le·dE/dW1 (le = {})", first.record.seed, o.config.mlp.le),
        line_plot(&LinePlot {
            title: "W1 update terms by step".into(),
            x_label: "step".into(),
            y_label: "Frobenius norm".into(),
            series: vec![Series { name: "lr·dL/dW1".into(), points: pts(|g| g.loss_term) }, Series { name: "le·dE/dW1".into(), points: pts(|g| g.enn_term) }],
            log_y: true,
        }),
    );
    r.svg(
        "The ENN's gradient with and without the sigmoid: ||dE/dW1|| = E(1−E)·||dz/dW1|| (E = σ(z)) and the logit's ||dz/dW1||, at the same W1s, with E itself. The factor E(1−E) ≤ 1/4 shrinks as E nears 1, so a falling ||dE/dW1|| with a flat ||dz/dW1|| is the sigmoid saturating, not the ENN reading a different training stage.".to_string(),
        line_plot(&LinePlot {
            title: "ENN gradient: sigmoid vs logit".into(),
            x_label: "step".into(),
            y_label: "Frobenius norm / score".into(),
            series: vec![
                Series { name: "||dE/dW1||".into(), points: pts(|g| g.score_grad) },
                Series { name: "||dz/dW1|| (logit)".into(), points: pts(|g| g.logit_grad) },
                Series { name: "E".into(), points: pts(|g| g.score) },
            ],
            log_y: true,
        }),
    );
}

fn enn_training_section(r: &mut Report, o: &Outcome) {
    if o.enn_logs.is_empty() {
        return;
    }
    let pts = |f: fn(&EpisodeLog) -> f32| {
        o.enn_logs
            .iter()
            .map(|l| (l.episode as f64, f(l) as f64))
            .collect()
    };
    r.heading("ENN training").svg(
        format!("{:?} rule: episode reward R (validation accuracy of the episode's MLP), running baseline b, and the ENN's prediction E of the final state", o.config.enn.rule),
        line_plot(&LinePlot {
            title: "ENN training curve".into(),
            x_label: "episode".into(),
            y_label: "accuracy".into(),
            series: vec![
                Series { name: "reward R".into(), points: pts(|l| l.reward) },
                Series { name: "baseline b".into(), points: pts(|l| l.baseline) },
                Series { name: "E(final state)".into(), points: pts(|l| l.final_score) },
            ],
            log_y: false,
        }),
    );
}

fn explain_section(r: &mut Report, e: &Explained) -> Result<()> {
    r.heading("Grad-CAM of the ENN").paragraph(
        "Two maps over W1, each divided by its maximum. Grad-CAM through the adjoint: the class activation map of the ENN's last convolution, upsampled to the image the ENN looked at and mapped back to W1 through the transpose of the image map (resize, mask, gain), so an entry's heat is the heat of the image pixels that read it times the weight with which they read it — zero where the ENN reads nothing. Gradient × weight: |W1 ⊙ ∂E/∂W1|, the first-order change of the score if the entry were zeroed. The per-pixel views are sums over the hidden units of these maps.",
    );
    let mut st = Table::new(["state", "ENN score", "test acc (%)"]);
    for s in &e.states {
        st.push_row([
            s.name.clone(),
            format!("{:.4}", s.score),
            format!("{:.2}", 100.0 * s.test_acc),
        ])?;
    }
    r.table(&st);
    let unit = ValueRange::Fixed { min: 0.0, max: 1.0 };
    for s in &e.states {
        let (name, w1) = (&s.name, &s.w1);
        let (rows, cols) = w1.matrix_dims("W1")?;
        let tall = if rows < 200 { 2 } else { 1 };
        r.png(
            format!("W1 of the {name} MLP ({rows}x{cols}, blue negative / red positive, symmetric range ±{:.3}); ENN score {:.3}, test accuracy {:.2}%", max_abs(w1), s.score, 100.0 * s.test_acc),
            heatmap(w1, Colormap::BlueWhiteRed, ValueRange::SymmetricAroundZero, (1, tall))?,
        );
        r.png(
            format!("Grad-CAM through the adjoint on that W1 ({rows}x{cols}; viridis, 0 = no evidence or not read, 1 = most)"),
            heatmap(&s.heat, Colormap::Viridis, unit, (1, tall))?,
        );
        r.png(
            format!("Gradient × weight |W1 ⊙ ∂E/∂W1| on that W1 ({rows}x{cols}; viridis, divided by its maximum)"),
            heatmap(&s.saliency, Colormap::Viridis, unit, (1, tall))?,
        );
        let side = (cols as f64).sqrt() as usize;
        if side * side == cols {
            for (what, map) in [
                ("Grad-CAM through the adjoint", &s.per_input),
                ("gradient × weight", &s.saliency_per_input),
            ] {
                r.png(
                    format!("{what} per input pixel ({side}x{side}: sum over the {rows} hidden units) — where in the digit image the ENN's evidence lies"),
                    heatmap(&map.clone().reshape(&[side, side])?, Colormap::Viridis, unit, (8, 8))?,
                );
            }
        }
    }
    lottery_section(r, e)
}

fn lottery_section(r: &mut Report, e: &Explained) -> Result<()> {
    let study = &e.lottery;
    let lc = &e.lottery_config;
    let mut lt = Table::new([
        "mask",
        "kept (%)",
        "test acc, no training (%)",
        "test acc after fine-tuning (%)",
    ]);
    for row in &study.rows {
        lt.push_row([
            row.kind.name().to_string(),
            format!("{}", row.percent),
            fmt_mean_std(100.0 * row.untrained.0, 100.0 * row.untrained.1, 2),
            fmt_mean_std(100.0 * row.finetuned.0, 100.0 * row.finetuned.1, 2),
        ])?;
    }
    let mut ct = Table::new([
        "kept (%)",
        "heat vs",
        "paired Δ fine-tuned acc (pp)",
        "95% CI (bootstrap, pp)",
        "t",
        "p (paired t)",
        "p (Holm)",
    ]);
    for c in &study.comparisons {
        ct.push_row([
            format!("{}", c.percent),
            c.control.name().to_string(),
            fmt_mean_std(100.0 * c.mean_diff, 100.0 * c.sd_diff, 2),
            format!("[{:+.2}, {:+.2}]", 100.0 * c.ci.0, 100.0 * c.ci.1),
            format!("{:.2}", c.t),
            fmt_p_value(c.p),
            fmt_p_value(c.p_holm),
        ])?;
    }
    let survivors: Vec<String> = study
        .comparisons
        .iter()
        .filter(|c| c.p_holm < 0.05)
        .map(|c| {
            format!(
                "{} at {}% (Δ {:+.2} pp)",
                c.control.name(),
                c.percent,
                100.0 * c.mean_diff
            )
        })
        .collect();
    let verdict = if survivors.is_empty() {
        "No comparison survives Holm's correction at 0.05: no evidence that the heat's entries differ from the controls.".to_string()
    } else {
        format!(
            "Comparisons with Holm-adjusted p < 0.05: {}.",
            survivors.join("; ")
        )
    };
    r.heading("Lottery-ticket test (ours)")
        .paragraph(format!(
            "Our quantitative version of the paper's qualitative Grad-CAM claim, over the untrained MLPs of {} seeds ({:?}), each with its own heat map (Grad-CAM through the adjoint): keep the top p% of W1 by heat, by |w|, at random, or by the heat map itself rolled by a random offset, with its rows (hidden units) permuted or with its columns (inputs) permuted — these three keep the heat mask's structure and move only its placement ({} draws per MLP of each random kind, averaged) — or by the heat of a fresh, untrained ENN with the same image (where any such ENN looks before learning anything). Ties in a score are broken at random with the run's seed. Test accuracy with no training and after {} SGD steps (lr {}, batch {}, the same batches for every mask of an MLP) with the mask held fixed; mean ± sd over the MLPs.",
            study.seeds.len(), study.seeds, lc.n_random, lc.finetune.steps, lc.finetune.lr, lc.finetune.batch
        ))
        .table(&lt)
        .paragraph("Heat against each other mask, paired by MLP: mean ± sd of the difference in fine-tuned test accuracy, its percentile-bootstrap 95% interval (10,000 resamples, seeded), paired t-test, Holm-adjusted across the whole table.")
        .table(&ct)
        .paragraph(verdict)
        .paragraph("What this shows: whether, at equal sparsity and fine-tuning budget, the entries the ENN's heat marks make a better or worse sub-network than masks of the same structure placed elsewhere, than magnitude pruning and than chance. What it does not show: it is not a search for a strong lottery ticket (no mask is optimized, and every untrained masked network is near chance), it covers only these sparsities, this budget and this architecture, and a difference may come from where the heat sits in W1 (for example on the image's centre pixels) rather than from anything the ENN learned.");
    Ok(())
}

fn coverage_section(r: &mut Report, o: &Outcome) -> Result<()> {
    let mut rows: Vec<&super::explain::EnnCoverage> = o.coverage.iter().collect();
    if let Some(p) = &o.prediction {
        rows.extend(p.candidates.iter().map(|c| &c.coverage));
    }
    let Some(first) = rows.first() else {
        return Ok(());
    };
    let mut t = Table::new([
        "ENN",
        "image",
        "W1 entries reached (dE/dW1 ≠ 0, %)",
        "share of ||dE/dW1||² on inert columns (%)",
    ]);
    for c in &rows {
        t.push_row([
            c.enn.clone(),
            c.image.clone(),
            format!("{:.2}", 100.0 * c.summary.reached_fraction),
            format!("{:.2}", 100.0 * c.summary.inert_share),
        ])?;
    }
    r.heading("ENN coverage").paragraph(format!(
        "What of W1 each ENN used in this run reads and moves: on the initial W1 of seeds {:?} (mean over them), the fraction of W1's entries with a nonzero ENN gradient, and the share of the squared gradient on input columns whose pixel variance over the training set is below {:e} (pixels that never vary: their weights get no cross-entropy gradient and changing them changes nothing the MLP computes).",
        super::run::coverage_seeds(&o.config), first.threshold
    ))
    .table(&t);
    Ok(())
}

fn prediction_section(r: &mut Report, p: &Prediction) -> Result<()> {
    let mut ct = Table::new([
        "ENN",
        "final reward",
        "prediction error",
        "Spearman(E, target)",
        "mean ||dE/dW1||",
        "gain vs BP (pp)",
    ]);
    for c in &p.candidates {
        ct.push_row([
            c.name.clone(),
            format!("{:.4}", c.final_reward),
            format!("{:.4}", c.prediction_error),
            format!("{:.3}", c.spearman_states),
            format!("{:.3e}", c.grad_norm),
            format!("{:+.2}", 100.0 * c.gain),
        ])?;
    }
    let mut cor = Table::new([
        "statistic",
        "Spearman with gain",
        "p (permutation)",
        "p (Holm)",
    ]);
    for c in &p.correlations {
        cor.push_row([
            c.statistic.name().to_string(),
            format!("{:.3}", c.spearman),
            fmt_p_value(c.p_permutation),
            fmt_p_value(c.p_holm),
        ])?;
    }
    r.heading("Predicting the best ENN").paragraph(format!(
        "{} ENNs ({} episodes each, one training rule, ENN seeds varied); gain = mean test accuracy of Grad-Instructor MLPs minus BP over seeds {:?}. Prediction error and Spearman(E, target) compare E on held-out MLP states with the quantity it is trained to predict: the state's trajectory's validation accuracy at the episode horizon. Diverged MLPs are not left out here: a candidate ENN whose Grad-Instructor runs diverge keeps its low gain (the study ranks ENNs by their effect, divergence included, and Spearman uses only the ranks); a non-finite loss stops the study with an error.",
        p.candidates.len(),
        p.episodes,
        p.seeds
    ));
    r.table(&ct).table(&cor);
    let significant = p.significant();
    r.paragraph(if significant.is_empty() {
        format!("Verdict: no evidence that any statistic predicts the best ENN (no Holm-adjusted permutation p below {PREDICTION_ALPHA} over {} ENNs).", p.candidates.len())
    } else {
        let names: Vec<&str> = significant.iter().map(|c| c.statistic.name()).collect();
        format!("Verdict: {} predict(s) the downstream gain (Holm-adjusted permutation p below {PREDICTION_ALPHA}).", names.join(", "))
    });
    if let Some(best) = p.best() {
        let (stat, rho) = (best.statistic, best.spearman);
        let name = stat.name();
        r.paragraph(format!(
            "Largest |Spearman| (descriptive): {name} (rho = {rho:.3})."
        ));
        r.svg(
            format!("Downstream gain of each ENN against {name}"),
            scatter_plot(&ScatterPlot {
                title: "Which ENN helps?".into(),
                x_label: name.to_string(),
                y_label: "gain vs BP (pp)".into(),
                points: p
                    .candidates
                    .iter()
                    .map(|c| (stat.of(c), 100.0 * c.gain, c.name.clone()))
                    .collect(),
                fit_line: true,
            }),
        );
    }
    Ok(())
}

/// The "Diverged runs" section: every run the [`divergence`](super::divergence) rule flags
/// (arm, seed, epoch, condition), or that none was, with the rule.
pub(crate) fn divergence_section(r: &mut Report, records: &[RunRecord]) -> Result<()> {
    let flagged: Vec<&RunRecord> = records.iter().filter(|r| r.divergence.is_some()).collect();
    r.heading("Diverged runs");
    if flagged.is_empty() {
        r.paragraph(format!(
            "No run diverged ({} runs checked). {}",
            records.len(),
            super::divergence::RULE
        ));
        return Ok(());
    }
    let mut t = Table::new([
        "arm",
        "seed",
        "epoch",
        "condition",
        "test acc (%)",
        "last epoch loss",
    ]);
    for x in &flagged {
        let d = x.divergence.expect("filtered on divergence");
        t.push_row([
            x.arm.name().to_string(),
            x.seed.to_string(),
            d.epoch.to_string(),
            d.cause.name().to_string(),
            format!("{:.2}", 100.0 * x.test_acc),
            format!("{:.3e}", x.last_epoch_loss),
        ])?;
    }
    r.paragraph(format!(
        "DIVERGED: {} of {} runs. {}",
        flagged.len(),
        records.len(),
        super::divergence::RULE
    ))
    .table(&t);
    Ok(())
}

/// Writes `report.html` and `report.md` of a run.
pub fn write_report(out: &Path, command: &str, o: &Outcome) -> Result<()> {
    let summary = summary_table(&o.summaries())?;
    let mut r = Report::new("Grad-Instructor on MNIST: reproduction report");
    r.heading("Run")
        .code(command.to_string())
        .paragraph(format!(
            "git revision {}; CPU: {}; {}. {}.",
            git_revision(),
            cpu_description(),
            timing_line(o),
            o.describe()
        ));
    r.heading("Four-arm comparison").table(&summary).paragraph(PAPER).paragraph(
        "p: Welch's two-sided t-test of Grad-Instructor's test accuracies against the arm's, over seeds. Every number here was measured by this run.",
    );
    let records = o.records();
    divergence_section(&mut r, &records)?;
    let paired = super::paired::paired_comparisons(&records)?;
    r.heading("Paired comparisons")
        .table(&super::paired::paired_table(&paired)?)
        .paragraph(super::paired::PAIRED_NOTE);
    gradient_section(&mut r, o);
    enn_training_section(&mut r, o);
    coverage_section(&mut r, o)?;
    if let Some(e) = &o.explained {
        explain_section(&mut r, e)?;
    }
    if let Some(p) = &o.prediction {
        prediction_section(&mut r, p)?;
    }
    r.write(out)
}
