//! Everything a run writes: `runs.csv`, `grad_norms.csv`, `enn_training.csv`,
//! `summary.json` and the report, each from the run's [`Outcome`]; and `--merge`'s reading of
//! `runs.csv` files back into [`RunRecord`]s.

use super::arm::{Arm, GradNormRecord, RunResult};
use super::explain::Explained;
use super::predict::Prediction;
use super::run::Outcome;
use super::summary::{summarize, ArmSummary, RunRecord};
use crate::error::{Error, Result};
use crate::instructor::EpisodeLog;
use crate::report::csv::{read_csv, write_csv};
use crate::report::json::write_json_pretty;
use crate::report::png::{heatmap_png, Colormap, HeatmapOptions, ValueRange};
use crate::report::svg::{line_plot, scatter_plot, LinePlot, ScatterPlot, Series};
use crate::report::table::{fmt_mean_std, fmt_p_value, Table};
use crate::report::Report;
use crate::tensor::Tensor;
use std::path::{Path, PathBuf};

const RUN_HEADERS: [&str; 8] = [
    "arm",
    "seed",
    "test_acc",
    "train_acc",
    "gap",
    "last_epoch_loss",
    "train_secs",
    "steps",
];
const PAPER: &str = "Paper (abstract of arXiv 2406.10559): Grad-Instructor MLPs reach 93.02% mean test accuracy on MNIST, \
2.8 points above conventional backprop, above L1 regularization, comparable to He initialization, with a smaller train-test gap, \
at the same number of epochs.";

/// `runs.csv`: one row per (arm, seed).
pub fn runs_table(records: &[RunRecord]) -> Result<Table> {
    let mut t = Table::new(RUN_HEADERS);
    for r in records {
        t.push_row([
            r.arm.name().to_string(),
            r.seed.to_string(),
            format!("{:.6}", r.test_acc),
            format!("{:.6}", r.train_acc),
            format!("{:.6}", r.gap()),
            format!("{:.6}", r.last_epoch_loss),
            format!("{:.3}", r.train_secs),
            r.steps.to_string(),
        ])?;
    }
    Ok(t)
}

/// Reads a `runs.csv` written by [`runs_table`]: the table as written and its records.
pub fn read_runs(path: &Path) -> Result<(Table, Vec<RunRecord>)> {
    let t = read_csv(path)?;
    let records = records_of(&t, path)?;
    Ok((t, records))
}

/// The records of a `runs.csv` table read from `path` (named in errors).
fn records_of(t: &Table, path: &Path) -> Result<Vec<RunRecord>> {
    if t.headers != RUN_HEADERS {
        return Err(Error::format(
            path,
            None,
            format!("unexpected columns {:?}", t.headers),
        ));
    }
    fn num<T: std::str::FromStr>(path: &Path, s: &str, what: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        s.parse::<T>()
            .map_err(|e| Error::format(path, None, format!("{what} {s:?}: {e}")))
    }
    t.rows
        .iter()
        .map(|r| {
            Ok(RunRecord {
                arm: Arm::parse(&r[0]).map_err(|e| Error::format(path, None, e.to_string()))?,
                seed: num(path, &r[1], "seed")?,
                test_acc: num(path, &r[2], "test_acc")?,
                train_acc: num(path, &r[3], "train_acc")?,
                last_epoch_loss: num(path, &r[5], "last_epoch_loss")?,
                train_secs: num(path, &r[6], "train_secs")?,
                steps: num(path, &r[7], "steps")?,
            })
        })
        .collect()
}

/// The per-arm table (terminal, Markdown, HTML).
pub fn summary_table(summaries: &[ArmSummary]) -> Result<Table> {
    let mut t = Table::new([
        "arm",
        "seeds",
        "test acc (%)",
        "train acc (%)",
        "train−test gap (pp)",
        "p (gi vs arm, test acc)",
        "train s/run",
    ]);
    let pct = |m: super::summary::MeanStd| fmt_mean_std(100.0 * m.mean, 100.0 * m.std, 2);
    for s in summaries {
        t.push_row([
            format!("{} ({})", s.arm.name(), s.arm.description()),
            s.seeds.to_string(),
            pct(s.test_acc),
            pct(s.train_acc),
            pct(s.gap),
            s.welch_vs_gi
                .map_or("—".into(), |p| fmt_p_value(p.p_two_sided)),
            format!("{:.2}", s.train_secs),
        ])?;
    }
    Ok(t)
}

fn summaries_json(summaries: &[ArmSummary]) -> serde_json::Value {
    summaries
        .iter()
        .map(|s| {
            serde_json::json!({
                "arm": s.arm.name(), "seeds": s.seeds,
                "test_acc_mean": s.test_acc.mean, "test_acc_std": s.test_acc.std,
                "train_acc_mean": s.train_acc.mean, "train_acc_std": s.train_acc.std,
                "gap_mean": s.gap.mean, "gap_std": s.gap.std,
                "welch_vs_gi": s.welch_vs_gi.map(|p| serde_json::json!({"t": p.t, "df": p.df, "p_two_sided": p.p_two_sided})),
                "train_secs_mean": s.train_secs,
            })
        })
        .collect()
}

fn git_revision() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

fn cpu_description() -> String {
    let model = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_string())
        })
        .unwrap_or_else(|| std::env::consts::ARCH.to_string());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    format!(
        "{model}, {cores} cores, kernels: {} ISA, {} threads",
        crate::kernels::isa::selected().name(),
        crate::kernels::isa::num_threads()
    )
}

fn enn_log_table(logs: &[EpisodeLog]) -> Result<Table> {
    let mut t = Table::new([
        "episode",
        "seed",
        "init_scale",
        "reward",
        "baseline",
        "mean_score",
        "start_score",
        "final_score",
        "chosen_multipliers",
        "enn_loss",
        "mlp_loss",
    ]);
    for l in logs {
        let mults: Vec<String> = l.chosen_multipliers.iter().map(|m| m.to_string()).collect();
        t.push_row([
            l.episode.to_string(),
            l.seed.to_string(),
            format!("{:.4}", l.init_scale),
            format!("{:.6}", l.reward),
            format!("{:.6}", l.baseline),
            format!("{:.6}", l.mean_score),
            format!("{:.6}", l.start_score),
            format!("{:.6}", l.final_score),
            mults.join(" "),
            format!("{:.6}", l.enn_loss),
            format!("{:.6}", l.mlp_loss),
        ])?;
    }
    Ok(t)
}

fn grad_norm_table(results: &[RunResult]) -> Result<Table> {
    let mut t = Table::new([
        "seed",
        "step",
        "loss_term_norm",
        "enn_term_norm",
        "enn_score",
    ]);
    for r in results.iter().filter(|r| r.arm == Arm::GradInstructor) {
        for g in &r.grad_norms {
            t.push_row([
                r.seed.to_string(),
                g.step.to_string(),
                format!("{:.6e}", g.loss_term),
                format!("{:.6e}", g.enn_term),
                format!("{:.6}", g.score),
            ])?;
        }
    }
    Ok(t)
}

/// The wall-time sentence of the terminal output and the report.
pub fn timing_line(o: &Outcome) -> String {
    let t = &o.timing;
    format!(
        "wall time {:.1} s (ENN training {:.1} s, arms {:.1} s, ENN prediction study {:.1} s)",
        t.total_secs, t.enn_secs, t.arms_secs, t.predict_secs
    )
}

/// Writes the CSV files of a run.
pub fn write_csvs(out: &Path, o: &Outcome) -> Result<()> {
    write_csv(&out.join("runs.csv"), &runs_table(&o.records())?)?;
    let norms = grad_norm_table(&o.results)?;
    if !norms.rows.is_empty() {
        write_csv(&out.join("grad_norms.csv"), &norms)?;
    }
    if !o.enn_logs.is_empty() {
        write_csv(&out.join("enn_training.csv"), &enn_log_table(&o.enn_logs)?)?;
    }
    Ok(())
}

/// Writes `summary.json`: the command, the revision, the machine, the whole configuration,
/// the per-arm summaries and the timings.
pub fn write_summary_json(out: &Path, command: &str, o: &Outcome) -> Result<()> {
    let t = &o.timing;
    let config = serde_json::to_value(&o.config)
        .map_err(|e| Error::invalid("summary.json", e.to_string()))?;
    write_json_pretty(
        &out.join("summary.json"),
        &serde_json::json!({
            "command": command, "git_revision": git_revision(), "cpu": cpu_description(),
            "data": {"dir": o.data_dir.display().to_string(), "name": o.data_name, "train": o.train_len, "test": o.test_len},
            "config": config,
            "arms": summaries_json(&o.summaries()),
            "seconds": { "enn_training": t.enn_secs, "arms": t.arms_secs, "enn_prediction": t.predict_secs, "total": t.total_secs },
        }),
    )
}

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
        .find(|r| r.arm == Arm::GradInstructor && !r.grad_norms.is_empty())
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
        format!("Norms of the two terms of the W1 update during Grad-Instructor training (seed {}): lr·dL/dW1 and le·dE/dW1 (le = {})", first.seed, o.config.mlp.le),
        line_plot(&LinePlot {
            title: "W1 update terms by step".into(),
            x_label: "step".into(),
            y_label: "Frobenius norm".into(),
            series: vec![Series { name: "lr·dL/dW1".into(), points: pts(|g| g.loss_term) }, Series { name: "le·dE/dW1".into(), points: pts(|g| g.enn_term) }],
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
    r.heading("Grad-CAM of the ENN");
    let mut st = Table::new(["state", "ENN score", "test acc (%)"]);
    for s in &e.states {
        st.push_row([
            s.name.clone(),
            format!("{:.4}", s.score),
            format!("{:.2}", 100.0 * s.test_acc),
        ])?;
    }
    r.table(&st);
    for s in &e.states {
        let (name, w1) = (&s.name, &s.w1);
        let (rows, cols) = w1.matrix_dims("W1")?;
        let tall = if rows < 200 { 2 } else { 1 };
        r.png(
            format!("W1 of the {name} MLP ({rows}x{cols}, blue negative / red positive, symmetric range ±{:.3}); ENN score {:.3}, test accuracy {:.2}%", max_abs(w1), s.score, 100.0 * s.test_acc),
            heatmap(w1, Colormap::BlueWhiteRed, ValueRange::SymmetricAroundZero, (1, tall))?,
        );
        r.png(
            format!("Grad-CAM of the ENN on that W1, mapped to {rows}x{cols} through the image's adjoint: heat only on the entries the ENN reads (viridis, 0 = no evidence, 1 = most)"),
            heatmap(&s.heat, Colormap::Viridis, ValueRange::Fixed { min: 0.0, max: 1.0 }, (1, tall))?,
        );
        let side = (cols as f64).sqrt() as usize;
        if side * side == cols {
            let per_pixel = s.per_input.clone().reshape(&[side, side])?;
            r.png(
                format!("Grad-CAM per input pixel ({side}x{side}: sum over hidden units of the map above) — where in the digit image the ENN's evidence lies"),
                heatmap(&per_pixel, Colormap::Viridis, ValueRange::Fixed { min: 0.0, max: 1.0 }, (8, 8))?,
            );
        }
    }
    let mut lt = Table::new([
        "mask",
        "kept (%)",
        "test acc, no training (%)",
        "test acc after fine-tuning (%)",
    ]);
    for row in &e.lottery {
        lt.push_row([
            row.kind.name().to_string(),
            format!("{}", row.percent),
            fmt_mean_std(100.0 * row.untrained.0, 100.0 * row.untrained.1, 2),
            fmt_mean_std(100.0 * row.finetuned.0, 100.0 * row.finetuned.1, 2),
        ])?;
    }
    let lc = &e.lottery_config;
    r.heading("Lottery-ticket test (ours)").paragraph(format!(
        "Our quantitative version of the paper's qualitative Grad-CAM claim: on the untrained MLP, keep the top p% of W1 by Grad-CAM heat, by |w|, or at random ({} masks), zero the rest; test accuracy with no training and after {} SGD steps (lr {}, batch {}) with the mask held fixed.",
        lc.n_random, lc.finetune.steps, lc.finetune.lr, lc.finetune.batch
    ))
    .table(&lt);
    Ok(())
}

fn prediction_section(r: &mut Report, p: &Prediction) -> Result<()> {
    let mut ct = Table::new([
        "ENN",
        "final reward",
        "prediction error",
        "Spearman(E, acc)",
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
    let mut cor = Table::new(["statistic", "Spearman with gain"]);
    for (stat, rho) in &p.correlations {
        cor.push_row([stat.name().to_string(), format!("{rho:.3}")])?;
    }
    r.heading("Predicting the best ENN").paragraph(format!(
        "{} ENNs ({} episodes each, seeds × {{reinforce, value}}); gain = mean test accuracy of Grad-Instructor MLPs minus BP over seeds {:?}.",
        p.candidates.len(),
        p.episodes,
        p.seeds
    ));
    r.table(&ct).table(&cor);
    if let Some((stat, rho)) = p.best() {
        let name = stat.name();
        r.paragraph(format!("Best predictor by |Spearman|: {name} (rho = {rho:.3}). With {} ENNs this is weak evidence either way.", p.candidates.len()));
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
    gradient_section(&mut r, o);
    enn_training_section(&mut r, o);
    if let Some(e) = &o.explained {
        explain_section(&mut r, e)?;
    }
    if let Some(p) = &o.prediction {
        prediction_section(&mut r, p)?;
    }
    r.write(out)
}

/// Writes every output file of a run into `out`.
pub fn write_all(out: &Path, command: &str, o: &Outcome) -> Result<()> {
    write_csvs(out, o)?;
    write_summary_json(out, command, o)?;
    write_report(out, command, o)
}

/// What `merge` combined.
pub struct Merged {
    /// Every record of every input, in input order.
    pub records: Vec<RunRecord>,
    /// Their per-arm summaries.
    pub summaries: Vec<ArmSummary>,
}

/// Combines the `runs.csv` of several output folders into `out` (`runs.csv`, `summary.json`,
/// a report).
pub fn merge(dirs: &[PathBuf], out: &Path, command: &str) -> Result<Merged> {
    if dirs.is_empty() || dirs.iter().any(|d| d.as_os_str().is_empty()) {
        return Err(Error::Usage(
            "merge needs at least one folder, and no empty folder name".into(),
        ));
    }
    // The rows are copied as written (not re-formatted), so merged files match their inputs.
    let mut records = Vec::new();
    let mut combined = Table::new(RUN_HEADERS);
    for d in dirs {
        let (t, r) = read_runs(&d.join("runs.csv"))?;
        records.extend(r);
        combined.rows.extend(t.rows);
    }
    write_csv(&out.join("runs.csv"), &combined)?;
    let summaries = summarize(&records);
    let summary = summary_table(&summaries)?;
    let sources: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    write_json_pretty(
        &out.join("summary.json"),
        &serde_json::json!({"command": command, "merged_from": sources, "arms": summaries_json(&summaries)}),
    )?;
    let mut r = Report::new("Grad-Instructor on MNIST: merged runs");
    r.heading("Run")
        .code(command.to_string())
        .paragraph(format!("Merged from: {}", sources.join(", ")));
    r.heading("Four-arm comparison")
        .table(&summary)
        .paragraph(PAPER);
    r.write(out)?;
    Ok(Merged { records, summaries })
}
