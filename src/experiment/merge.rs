//! `merge`: combine the `runs.csv` of several output folders (e.g. the shards of one
//! experiment) into one table and report, refusing what cannot be merged.
//!
//! Refused, each with an error naming the folder or file: no folder or an empty name; the
//! same folder twice (compared after resolving symlinks and `..`); an output folder that is
//! one of the inputs; folders whose recorded configurations (`summary.json`'s `config`,
//! ignoring `shard` and `jobs`) differ, naming the first differing field; an (arm, seed) row
//! present twice; and, in `runs.csv`, unknown arms, non-integer seeds, accuracies outside
//! [0, 1], non-finite or negative losses and times, and a missing final newline (a truncated
//! last row).
//!
//! Each folder's configuration is identified by its fingerprint
//! ([`fingerprint`](super::config::ExperimentConfig::fingerprint)): the `config` column of
//! its `runs.csv` must hold one fingerprint, that of the configuration its `summary.json`
//! records (a `runs.csv` copied from another run is refused), and every folder's fingerprint
//! must be the first folder's (the error names both folders, both fingerprints and the first
//! differing field).
//!
//! A `runs.csv` written before the `config` column is still read: its folder is checked by
//! its `summary.json` alone, [`Merged::warnings`] says so, and its rows are written with the
//! column filled in from that `summary.json`. One written before the `diverged` column too:
//! its rows are checked by the accuracy condition of the [`divergence`](super::divergence)
//! rule (their epoch losses were not kept) and written with that column filled in as well.

use super::config::CLASSES;
use super::config::{comparable, fingerprint_of};
use super::divergence::{at_chance, Divergence};
use super::output::{
    config_column, records_of, summaries_json, summary_table, OutDir, NO_CONFIG_RUN_HEADERS,
    OLD_RUN_HEADERS, PAPER, RUN_HEADERS,
};
use super::summary::{summarize, ArmSummary, RunRecord};
use crate::error::{Error, Result};
use crate::report::csv::write_csv;
use crate::report::json::{read_json, write_json_pretty};
use crate::report::table::Table;
use crate::report::Report;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// What [`merge`] combined.
pub struct Merged {
    /// Every record of every input, in input order.
    pub records: Vec<RunRecord>,
    /// Their per-arm summaries.
    pub summaries: Vec<ArmSummary>,
    /// What was merged with weaker checks (an input in an older format), one line each,
    /// for the caller to show.
    pub warnings: Vec<String>,
}

/// The first path (`mlp.lr`) at which two JSON values differ, if any.
fn first_difference(a: &serde_json::Value, b: &serde_json::Value, at: &str) -> Option<String> {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            let mut keys: Vec<&String> = x.keys().chain(y.keys()).collect();
            keys.sort();
            keys.dedup();
            keys.into_iter().find_map(|k| {
                let path = if at.is_empty() {
                    k.clone()
                } else {
                    format!("{at}.{k}")
                };
                match (x.get(k), y.get(k)) {
                    (Some(u), Some(v)) => first_difference(u, v, &path),
                    _ => Some(path),
                }
            })
        }
        _ if a == b => None,
        _ => Some(if at.is_empty() {
            "config".into()
        } else {
            at.into()
        }),
    }
}

/// The comparable recorded configuration of an output folder.
fn recorded_config(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join("summary.json");
    let mut v = read_json(&path)?;
    let mut config = v
        .get_mut("config")
        .map(serde_json::Value::take)
        .ok_or_else(|| Error::format(&path, None, "no \"config\": not written by a run"))?;
    comparable(&mut config);
    Ok(config)
}

/// The epochs per run recorded in an output folder's `summary.json` (`config.mlp.epochs`).
fn recorded_epochs(dir: &Path) -> Result<usize> {
    let path = dir.join("summary.json");
    read_json(&path)?
        .pointer("/config/mlp/epochs")
        .and_then(serde_json::Value::as_u64)
        .map(|e| e as usize)
        .ok_or_else(|| Error::format(&path, None, "no config.mlp.epochs"))
}

fn canonical(dir: &Path) -> Result<PathBuf> {
    dir.canonicalize().map_err(|e| Error::io(dir, e))
}

/// Refuses no folder, an empty name, the same folder twice and an output folder that is one
/// of the inputs.
fn check_folders(dirs: &[PathBuf], out: &Path) -> Result<()> {
    if dirs.is_empty() || dirs.iter().any(|d| d.as_os_str().is_empty()) {
        return Err(Error::Usage(
            "merge needs at least one folder, and no empty folder name".into(),
        ));
    }
    let mut seen: Vec<PathBuf> = Vec::new();
    for d in dirs {
        let c = canonical(d)?;
        if seen.contains(&c) {
            return Err(Error::Usage(format!(
                "merge: {} is given twice (its rows would be counted twice)",
                d.display()
            )));
        }
        seen.push(c);
    }
    if let Ok(o) = out.canonicalize() {
        if seen.contains(&o) {
            return Err(Error::Usage(format!(
                "merge: the output folder {} is one of the inputs (its runs.csv would be overwritten)",
                out.display()
            )));
        }
    }
    Ok(())
}

/// One input folder, read and checked on its own.
struct Input {
    /// The comparable configuration its `summary.json` records.
    config: serde_json::Value,
    /// That configuration's fingerprint.
    fingerprint: String,
    /// Its `runs.csv` in the current format (old formats filled in), and its records.
    table: Table,
    records: Vec<RunRecord>,
    /// Set when its `runs.csv` has no `config` column.
    warning: Option<String>,
}

/// Reads `dir`'s `summary.json` and `runs.csv`, checks that the fingerprints in `runs.csv`'s
/// `config` column are the one of the configuration `summary.json` records, and brings a
/// `runs.csv` of an older format to the current one (see the module docs).
fn read_input(dir: &Path) -> Result<Input> {
    let config = recorded_config(dir)?;
    let fingerprint = fingerprint_of(&config);
    let path = dir.join("runs.csv");
    let (mut table, mut records) = super::output::read_runs(&path)?;
    let mut warning = None;
    match config_column(&table) {
        Some(recorded) => {
            if let Some(other) = recorded.iter().find(|f| **f != fingerprint) {
                return Err(Error::Usage(format!(
                    "merge: {} holds rows of configuration {other}, but {} records configuration {fingerprint} (files of different runs)",
                    path.display(),
                    dir.join("summary.json").display()
                )));
            }
        }
        None => {
            warning = Some(format!(
                "{} has no config column (written by an older version): its configuration is checked by {} only",
                path.display(),
                dir.join("summary.json").display()
            ));
            if table.headers == OLD_RUN_HEADERS {
                let epochs = recorded_epochs(dir)?;
                for (row, r) in table.rows.iter_mut().zip(records.iter_mut()) {
                    r.divergence = at_chance(r.test_acc, CLASSES, epochs);
                    row.push(Divergence::cell(r.divergence));
                }
            }
            debug_assert!(table
                .rows
                .iter()
                .all(|r| r.len() == NO_CONFIG_RUN_HEADERS.len()));
            for row in &mut table.rows {
                row.push(fingerprint.clone());
            }
            table.headers = RUN_HEADERS.iter().map(|h| h.to_string()).collect();
        }
    }
    Ok(Input {
        config,
        fingerprint,
        table,
        records,
        warning,
    })
}

/// Refuses an input whose configuration is not the first input's, naming both folders, both
/// fingerprints and the first differing field.
fn check_same_config(first_dir: &Path, first: &Input, dir: &Path, input: &Input) -> Result<()> {
    let differs = first_difference(&first.config, &input.config, "");
    if differs.is_none() && first.fingerprint == input.fingerprint {
        return Ok(());
    }
    Err(Error::Usage(format!(
        "merge: {} (config {}) and {} (config {}) ran different configurations ({} differs)",
        first_dir.display(),
        first.fingerprint,
        dir.display(),
        input.fingerprint,
        differs.unwrap_or_else(|| "config".into())
    )))
}

/// Refuses an (arm, seed) of `records` already merged from another folder.
fn check_no_overlap<'a>(
    origin: &mut HashMap<(super::Arm, u64), &'a Path>,
    dir: &'a Path,
    records: &[RunRecord],
) -> Result<()> {
    for r in records {
        if let Some(other) = origin.insert((r.arm, r.seed), dir) {
            return Err(Error::Usage(format!(
                "merge: {} seed {} is in both {} and {}",
                r.arm.name(),
                r.seed,
                other.display(),
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Writes the merged `runs.csv`, `summary.json` (with the configuration and its fingerprint)
/// and report into `out`.
fn write_merged(
    out: &Path,
    command: &str,
    dirs: &[PathBuf],
    first: &Input,
    combined: &Table,
    records: &[RunRecord],
) -> Result<Vec<ArmSummary>> {
    write_csv(&out.join("runs.csv"), combined)?;
    let summaries = summarize(records);
    let summary = summary_table(&summaries)?;
    let paired = super::paired::paired_comparisons(records)?;
    let sources: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    write_json_pretty(
        &out.join("summary.json"),
        &serde_json::json!({"command": command, "merged_from": sources, "config": first.config, "config_fingerprint": first.fingerprint, "arms": summaries_json(&summaries), "paired": super::paired::paired_json(&paired)}),
    )?;
    let mut r = Report::new("Grad-Instructor on MNIST: merged runs");
    r.heading("Run")
        .code(command.to_string())
        .paragraph(format!("Merged from: {}", sources.join(", ")));
    r.heading("Four-arm comparison")
        .table(&summary)
        .paragraph(PAPER);
    super::sections::divergence_section(&mut r, records)?;
    r.heading("Paired comparisons")
        .table(&super::paired::paired_table(&paired)?)
        .paragraph(super::paired::PAIRED_NOTE);
    r.write(out)?;
    Ok(summaries)
}

/// Combines the `runs.csv` of `dirs` into `out` (`runs.csv`, `summary.json`, a report) after
/// the checks in the module docs; `out` must be absent or empty. Nothing is written when a
/// check fails.
pub fn merge(dirs: &[PathBuf], out: &Path, command: &str) -> Result<Merged> {
    merge_with(dirs, out, false, command)
}

/// [`merge`], replacing a non-empty `out` when `replace` is set. The files are written into
/// `out`'s staging folder and renamed into place at the end ([`OutDir`]), so a merge that
/// fails while writing leaves the old `out` as it was.
pub fn merge_with(dirs: &[PathBuf], out: &Path, replace: bool, command: &str) -> Result<Merged> {
    check_folders(dirs, out)?;
    let inputs = dirs
        .iter()
        .map(|d| read_input(d))
        .collect::<Result<Vec<Input>>>()?;
    // The rows are copied as written (not re-formatted), so merged files match their inputs.
    let mut records: Vec<RunRecord> = Vec::new();
    let mut combined = Table::new(RUN_HEADERS);
    let mut origin: HashMap<(super::Arm, u64), &Path> = HashMap::new();
    let mut warnings = Vec::new();
    for (d, input) in dirs.iter().zip(&inputs) {
        check_same_config(&dirs[0], &inputs[0], d, input)?;
        check_no_overlap(&mut origin, d, &input.records)?;
        records.extend_from_slice(&input.records);
        combined.rows.extend_from_slice(&input.table.rows);
        warnings.extend(input.warning.clone());
    }
    debug_assert_eq!(records_of(&combined, out).ok().as_ref(), Some(&records));
    let staged = OutDir::prepare(out, None, replace)?;
    let summaries = write_merged(
        staged.path(),
        command,
        dirs,
        &inputs[0],
        &combined,
        &records,
    )?;
    staged.commit()?;
    Ok(Merged {
        records,
        summaries,
        warnings,
    })
}
