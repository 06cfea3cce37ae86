//! Everything a run writes: `runs.csv`, `grad_norms.csv`, `enn_training.csv`,
//! `summary.json` and the report, each from the run's [`Outcome`]; and the reading of
//! `runs.csv` files back into [`RunRecord`]s.

use super::arm::{Arm, RunResult};
use super::divergence::Divergence;
use super::run::Outcome;
use super::summary::{ArmSummary, RunRecord};
use crate::error::{Error, Result};
use crate::instructor::EpisodeLog;
use crate::report::csv::{parse_csv, write_csv};
use crate::report::json::write_json_pretty;
use crate::report::table::{fmt_mean_std, fmt_p_value, Table};
use std::path::{Path, PathBuf};

/// The columns of `runs.csv`. New columns go at the end, so the old ones keep their place.
/// `config` is the [fingerprint](super::config::ExperimentConfig::fingerprint) of the
/// configuration that ran the row.
pub(crate) const RUN_HEADERS: [&str; 10] = [
    "arm",
    "seed",
    "test_acc",
    "train_acc",
    "gap",
    "last_epoch_loss",
    "train_secs",
    "steps",
    "diverged",
    "config",
];
/// The columns of a `runs.csv` written before the `config` column: still read (its rows
/// carry no fingerprint; [`merge`](super::merge) falls back to `summary.json`'s config).
pub(crate) const NO_CONFIG_RUN_HEADERS: [&str; 9] = [
    "arm",
    "seed",
    "test_acc",
    "train_acc",
    "gap",
    "last_epoch_loss",
    "train_secs",
    "steps",
    "diverged",
];
/// The columns of a `runs.csv` written before the `diverged` column: still read (its rows
/// carry no divergence flag; [`merge`](super::merge) applies the accuracy rule to them).
pub(crate) const OLD_RUN_HEADERS: [&str; 8] = [
    "arm",
    "seed",
    "test_acc",
    "train_acc",
    "gap",
    "last_epoch_loss",
    "train_secs",
    "steps",
];
pub(crate) const PAPER: &str = "Paper (abstract of arXiv 2406.10559): Grad-Instructor MLPs reach 93.02% mean test accuracy on MNIST, \
2.8 points above conventional backprop, above L1 regularization, comparable to He initialization, with a smaller train-test gap, \
at the same number of epochs.";

/// `runs.csv`: one row per (arm, seed), each ending with `config`, the fingerprint of the
/// configuration that ran it.
pub fn runs_table(records: &[RunRecord], config: &str) -> Result<Table> {
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
            Divergence::cell(r.divergence),
            config.to_string(),
        ])?;
    }
    Ok(t)
}

/// Reads a `runs.csv` written by [`runs_table`]: the table as written and its records.
///
/// A file that does not end with a newline is refused: its last row may be cut short (a copy
/// or a write interrupted at a line boundary would otherwise lose rows silently).
pub fn read_runs(path: &Path) -> Result<(Table, Vec<RunRecord>)> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    if !text.is_empty() && !text.ends_with('\n') {
        return Err(Error::format(
            path,
            Some(text.len() as u64),
            "no newline at the end: the last row may be truncated",
        ));
    }
    let t = parse_csv(&text, path)?;
    let records = records_of(&t, path)?;
    Ok((t, records))
}

/// The records of a `runs.csv` table read from `path` (named in errors). A table in an old
/// format ([`NO_CONFIG_RUN_HEADERS`], no `config` column; [`OLD_RUN_HEADERS`], no `diverged`
/// column either) gives records without a divergence flag when it has no `diverged` column.
/// A `config` cell must be a fingerprint (8 lowercase hex digits); what it says is
/// [`config_column`]'s and `merge`'s business.
pub(crate) fn records_of(t: &Table, path: &Path) -> Result<Vec<RunRecord>> {
    if t.headers != RUN_HEADERS
        && t.headers != NO_CONFIG_RUN_HEADERS
        && t.headers != OLD_RUN_HEADERS
    {
        return Err(Error::format(
            path,
            None,
            format!("unexpected columns {:?}", t.headers),
        ));
    }
    if let Some(cell) = t
        .rows
        .iter()
        .filter_map(|r| r.get(9))
        .find(|c| !is_fingerprint(c))
    {
        return Err(Error::format(
            path,
            None,
            format!("config {cell:?}: not a configuration fingerprint (8 hex digits)"),
        ));
    }
    fn num<T: std::str::FromStr>(path: &Path, s: &str, what: &str) -> Result<T>
    where
        T::Err: std::fmt::Display,
    {
        s.parse::<T>()
            .map_err(|e| Error::format(path, None, format!("{what} {s:?}: {e}")))
    }
    fn fraction(path: &Path, s: &str, what: &str) -> Result<f64> {
        let v: f64 = num(path, s, what)?;
        if (0.0..=1.0).contains(&v) {
            Ok(v)
        } else {
            Err(Error::format(
                path,
                None,
                format!("{what} {s:?}: not in [0, 1]"),
            ))
        }
    }
    fn non_negative(path: &Path, s: &str, what: &str) -> Result<f64> {
        let v: f64 = num(path, s, what)?;
        if v.is_finite() && v >= 0.0 {
            Ok(v)
        } else {
            Err(Error::format(
                path,
                None,
                format!("{what} {s:?}: not a finite number >= 0"),
            ))
        }
    }
    t.rows
        .iter()
        .map(|r| {
            Ok(RunRecord {
                arm: Arm::parse(&r[0]).map_err(|e| Error::format(path, None, e.to_string()))?,
                seed: num(path, &r[1], "seed")?,
                test_acc: fraction(path, &r[2], "test_acc")?,
                train_acc: fraction(path, &r[3], "train_acc")?,
                last_epoch_loss: non_negative(path, &r[5], "last_epoch_loss")?,
                train_secs: non_negative(path, &r[6], "train_secs")?,
                steps: num(path, &r[7], "steps")?,
                divergence: match r.get(8) {
                    None => None,
                    Some(cell) => Divergence::parse_cell(cell).ok_or_else(|| {
                        Error::format(
                            path,
                            None,
                            format!("diverged {cell:?}: not \"no\" or <cause>@epoch<N>"),
                        )
                    })?,
                },
            })
        })
        .collect()
}

/// Whether `s` looks like [`fingerprint`](super::config::ExperimentConfig::fingerprint)'s output.
fn is_fingerprint(s: &str) -> bool {
    s.len() == 8
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The configuration fingerprints recorded in a `runs.csv` table's `config` column, each once
/// in order of first appearance; `None` for a table written before that column.
pub(crate) fn config_column(t: &Table) -> Option<Vec<String>> {
    let at = t.headers.iter().position(|h| h == "config")?;
    let mut seen: Vec<String> = Vec::new();
    for r in &t.rows {
        if !seen.contains(&r[at]) {
            seen.push(r[at].clone());
        }
    }
    Some(seen)
}

/// The per-arm table (terminal, Markdown, HTML). An arm with diverged runs says so in the
/// seeds column (`5 (2 diverged)`) and has no p-value (`diverged (2 of 5 seeds)`); every arm's
/// p-value is left out when `gi` has diverged runs.
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
    let gi_diverged = summaries
        .iter()
        .any(|s| s.arm == Arm::GradInstructor && s.diverged > 0);
    for s in summaries {
        let (seeds, p) = if s.diverged > 0 {
            (
                format!("{} ({} diverged)", s.seeds, s.diverged),
                format!("diverged ({} of {} seeds)", s.diverged, s.seeds),
            )
        } else {
            let p = match s.welch_vs_gi {
                Some(p) => fmt_p_value(p.p_two_sided),
                None if gi_diverged && s.arm != Arm::GradInstructor => "— (gi diverged)".into(),
                None => "—".into(),
            };
            (s.seeds.to_string(), p)
        };
        t.push_row([
            format!("{} ({})", s.arm.name(), s.arm.description()),
            seeds,
            pct(s.test_acc),
            pct(s.train_acc),
            pct(s.gap),
            p,
            format!("{:.2}", s.train_secs),
        ])?;
    }
    Ok(t)
}

pub(crate) fn summaries_json(summaries: &[ArmSummary]) -> serde_json::Value {
    summaries
        .iter()
        .map(|s| {
            serde_json::json!({
                "arm": s.arm.name(), "seeds": s.seeds, "diverged": s.diverged,
                "test_acc_mean": s.test_acc.mean, "test_acc_std": s.test_acc.std,
                "train_acc_mean": s.train_acc.mean, "train_acc_std": s.train_acc.std,
                "gap_mean": s.gap.mean, "gap_std": s.gap.std,
                "welch_vs_gi": s.welch_vs_gi.map(|p| serde_json::json!({"t": p.t, "df": p.df, "p_two_sided": p.p_two_sided})),
                "train_secs_mean": s.train_secs,
            })
        })
        .collect()
}

pub(crate) fn git_revision() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into())
}

pub(crate) fn cpu_description() -> String {
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

/// `enn_training.csv`: one row per episode; `seed` is the episode's MLP seed, `enn_seed`
/// the ENN's, `config` the run's configuration fingerprint.
fn enn_log_table(logs: &[EpisodeLog], enn_seed: &str, config: &str) -> Result<Table> {
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
        "enn_seed",
        "config",
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
            enn_seed.to_string(),
            config.to_string(),
        ])?;
    }
    Ok(t)
}

/// `grad_norms.csv`: the gradient-term norms of every `gi` run; `seed` is the MLP's seed,
/// `enn_seed` the main ENN's (empty when a loaded ENN's file records none), `config` the run's configuration fingerprint.
fn grad_norm_table(results: &[RunResult], enn_seed: &str, config: &str) -> Result<Table> {
    let mut t = Table::new([
        "seed",
        "step",
        "loss_term_norm",
        "enn_term_norm",
        "enn_score",
        "enn_score_grad_norm",
        "enn_logit_grad_norm",
        "enn_seed",
        "config",
    ]);
    for r in results
        .iter()
        .filter(|r| r.record.arm == Arm::GradInstructor)
    {
        for g in &r.grad_norms {
            t.push_row([
                r.record.seed.to_string(),
                g.step.to_string(),
                format!("{:.6e}", g.loss_term),
                format!("{:.6e}", g.enn_term),
                format!("{:.6}", g.score),
                format!("{:.6e}", g.score_grad),
                format!("{:.6e}", g.logit_grad),
                enn_seed.to_string(),
                config.to_string(),
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
/// Every row ends with the configuration's fingerprint (`config`), so each file can be traced
/// to the run that wrote it.
pub fn write_csvs(out: &Path, o: &Outcome) -> Result<()> {
    let config = o.config.fingerprint();
    let enn_seed = o.enn_seed.map_or_else(String::new, |s| s.to_string());
    write_csv(&out.join("runs.csv"), &runs_table(&o.records(), &config)?)?;
    let norms = grad_norm_table(&o.results, &enn_seed, &config)?;
    if !norms.rows.is_empty() {
        write_csv(&out.join("grad_norms.csv"), &norms)?;
    }
    if !o.enn_logs.is_empty() {
        let logs = enn_log_table(&o.enn_logs, &enn_seed, &config)?;
        write_csv(&out.join("enn_training.csv"), &logs)?;
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
            "config": config, "config_fingerprint": o.config.fingerprint(), "enn_seed": o.enn_seed,
            "arms": summaries_json(&o.summaries()),
            "paired": super::paired::paired_json(&super::paired::paired_comparisons(&o.records())?),
            "seconds": { "enn_training": t.enn_secs, "arms": t.arms_secs, "enn_prediction": t.predict_secs, "total": t.total_secs },
        }),
    )
}

/// Writes every output file of a run into `out`.
pub fn write_all(out: &Path, command: &str, o: &Outcome) -> Result<()> {
    write_csvs(out, o)?;
    write_summary_json(out, command, o)?;
    super::sections::write_report(out, command, o)
}

/// The staging folder of output folder `out`: its sibling `<name>.partial`, where a run
/// writes until [`OutDir::commit`] renames it to `out`. Error when `out` names no folder
/// (`.`, `..`, `/`).
pub fn staging_path(out: &Path) -> Result<PathBuf> {
    let name = out.file_name().ok_or_else(|| {
        Error::Usage(format!(
            "output folder {} names no folder (a run is written beside it and renamed into place)",
            out.display()
        ))
    })?;
    let mut staged = name.to_os_string();
    staged.push(".partial");
    Ok(out.with_file_name(staged))
}

/// The folder a run resumed from `dir` reads its checkpoint from: `dir`'s staging folder
/// when that holds one (the run in `dir` was interrupted or failed), else `dir` itself (a
/// finished run, or a folder written before staging).
pub fn resume_folder(dir: &Path) -> PathBuf {
    match staging_path(dir) {
        Ok(s) if s.join("enn_checkpoint").is_dir() => s,
        _ => dir.to_path_buf(),
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(x), Ok(y)) => x == y,
        _ => false,
    }
}

fn is_empty_dir(dir: &Path) -> Result<bool> {
    Ok(std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .next()
        .is_none())
}

/// An output folder being written, so that a run never mixes its files with another's and a
/// failed run leaves the previous one intact: everything is written into the staging folder
/// [`path`](Self::path) (`<out>.partial`, see [`staging_path`]) and [`commit`](Self::commit)
/// renames it to `out` once every file is written.
///
/// * [`prepare`](Self::prepare) refuses, before any work, an `out` that is not a folder, and
///   a non-empty `out` unless the run resumes it or `replace` is set; and a staging folder
///   left by an unfinished run unless the run resumes it or `replace` is set (then it is
///   discarded). It creates the staging folder, so an unwritable location fails at once.
/// * A failed run leaves `out` untouched. Its staging folder stays when it holds an ENN
///   checkpoint (so the run can be resumed), and is removed otherwise (on drop).
/// * Resuming `out` ([`resume_folder`]): the checkpoint is read from `<out>.partial` when the
///   run there was interrupted (and the run continues in that folder), else from `out`;
///   committing then replaces `out`.
/// * [`commit`](Self::commit) moves an existing `out` aside, renames the staging folder to
///   `out` and removes the old one: `out` holds either the old run or the new one, but for
///   the instant between the two renames it is absent.
#[derive(Debug)]
pub struct OutDir {
    out: PathBuf,
    staging: PathBuf,
    resume_from: Option<PathBuf>,
    committed: bool,
}

impl OutDir {
    /// Checks `out` and creates its staging folder (see the type's docs); `resume` is the
    /// folder a resumed run continues, `replace` allows replacing a finished or unfinished run.
    pub fn prepare(out: &Path, resume: Option<&Path>, replace: bool) -> Result<OutDir> {
        let staging = staging_path(out)?;
        let resume_from = resume.map(resume_folder);
        let resuming_out = resume.is_some_and(|r| same_folder(r, out));
        if out.exists() {
            if !out.is_dir() {
                return Err(Error::Usage(format!(
                    "output folder {} exists and is not a folder",
                    out.display()
                )));
            }
            if !is_empty_dir(out)? && !resuming_out && !replace {
                return Err(Error::Usage(format!(
                    "output folder {} is not empty (it holds another run); a run writes only into a new or empty folder",
                    out.display()
                )));
            }
        }
        let continues_staging = resume_from
            .as_deref()
            .is_some_and(|r| same_folder(r, &staging));
        if staging.exists() && !continues_staging {
            if !replace {
                return Err(Error::Usage(format!(
                    "{} holds the files of an unfinished run into {} (resume it, or replace it)",
                    staging.display(),
                    out.display()
                )));
            }
            std::fs::remove_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        }
        std::fs::create_dir_all(&staging).map_err(|e| Error::io(&staging, e))?;
        Ok(OutDir {
            out: out.to_path_buf(),
            staging,
            resume_from,
            committed: false,
        })
    }

    /// The folder to write into: the staging folder.
    pub fn path(&self) -> &Path {
        &self.staging
    }

    /// The folder the outputs end up in.
    pub fn out(&self) -> &Path {
        &self.out
    }

    /// The folder a resumed run reads its checkpoint from (see [`resume_folder`]).
    pub fn resume_from(&self) -> Option<&Path> {
        self.resume_from.as_deref()
    }

    /// Renames the staging folder to `out`, replacing what was there (see the type's docs).
    pub fn commit(mut self) -> Result<()> {
        let out = self.out.clone();
        let mut old = None;
        if out.exists() {
            if is_empty_dir(&out)? {
                std::fs::remove_dir(&out).map_err(|e| Error::io(&out, e))?;
            } else {
                let mut aside = staging_path(&out)?.into_os_string();
                aside.push(format!(".replaced-{}", std::process::id()));
                let aside = PathBuf::from(aside);
                std::fs::rename(&out, &aside).map_err(|e| Error::io(&out, e))?;
                old = Some(aside);
            }
        }
        std::fs::rename(&self.staging, &out).map_err(|e| Error::io(&self.staging, e))?;
        self.committed = true;
        if let Some(parent) = out.parent().filter(|p| !p.as_os_str().is_empty()) {
            if let Ok(d) = std::fs::File::open(parent) {
                let _ = d.sync_all(); // persist the renames; best effort
            }
        }
        if let Some(old) = old {
            std::fs::remove_dir_all(&old).map_err(|e| Error::io(&old, e))?;
        }
        Ok(())
    }
}

impl Drop for OutDir {
    /// A run that never committed: its staging folder is removed unless it holds an ENN
    /// checkpoint to resume from.
    fn drop(&mut self) {
        if !self.committed && !self.staging.join("enn_checkpoint").exists() {
            let _ = std::fs::remove_dir_all(&self.staging);
        }
    }
}
