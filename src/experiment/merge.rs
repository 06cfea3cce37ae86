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
//! A `runs.csv` written before the `diverged` column is still read: its rows are checked by
//! the accuracy condition of the [`divergence`](super::divergence) rule (their epoch losses
//! were not kept) and written with the column filled in.

use super::config::comparable;
use super::config::CLASSES;
use super::divergence::{at_chance, Divergence};
use super::output::{
    records_of, summaries_json, summary_table, OLD_RUN_HEADERS, PAPER, RUN_HEADERS,
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

/// Combines the `runs.csv` of `dirs` into `out` (`runs.csv`, `summary.json`, a report) after
/// the checks in the module docs; nothing is written when one fails.
pub fn merge(dirs: &[PathBuf], out: &Path, command: &str) -> Result<Merged> {
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
    let first_config = recorded_config(&dirs[0])?;
    // The rows are copied as written (not re-formatted), so merged files match their inputs.
    let mut records: Vec<RunRecord> = Vec::new();
    let mut combined = Table::new(RUN_HEADERS);
    let mut origin: HashMap<(super::Arm, u64), &Path> = HashMap::new();
    for d in dirs {
        if let Some(field) = first_difference(&first_config, &recorded_config(d)?, "") {
            return Err(Error::Usage(format!(
                "merge: {} and {} ran different configurations ({field} differs)",
                dirs[0].display(),
                d.display()
            )));
        }
        let path = d.join("runs.csv");
        let (mut t, mut rs) = super::output::read_runs(&path)?;
        if t.headers == OLD_RUN_HEADERS {
            let epochs = recorded_epochs(d)?;
            for (row, r) in t.rows.iter_mut().zip(rs.iter_mut()) {
                r.divergence = at_chance(r.test_acc, CLASSES, epochs);
                row.push(Divergence::cell(r.divergence));
            }
        }
        for r in &rs {
            if let Some(other) = origin.insert((r.arm, r.seed), d) {
                return Err(Error::Usage(format!(
                    "merge: {} seed {} is in both {} and {}",
                    r.arm.name(),
                    r.seed,
                    other.display(),
                    d.display()
                )));
            }
        }
        records.extend(rs);
        combined.rows.extend(t.rows);
    }
    debug_assert_eq!(records_of(&combined, out).ok().as_ref(), Some(&records));
    write_csv(&out.join("runs.csv"), &combined)?;
    let summaries = summarize(&records);
    let summary = summary_table(&summaries)?;
    let paired = super::paired::paired_comparisons(&records)?;
    let sources: Vec<String> = dirs.iter().map(|d| d.display().to_string()).collect();
    write_json_pretty(
        &out.join("summary.json"),
        &serde_json::json!({"command": command, "merged_from": sources, "config": first_config, "arms": summaries_json(&summaries), "paired": super::paired::paired_json(&paired)}),
    )?;
    let mut r = Report::new("Grad-Instructor on MNIST: merged runs");
    r.heading("Run")
        .code(command.to_string())
        .paragraph(format!("Merged from: {}", sources.join(", ")));
    r.heading("Four-arm comparison")
        .table(&summary)
        .paragraph(PAPER);
    super::sections::divergence_section(&mut r, &records)?;
    r.heading("Paired comparisons")
        .table(&super::paired::paired_table(&paired)?)
        .paragraph(super::paired::PAIRED_NOTE);
    r.write(out)?;
    Ok(Merged { records, summaries })
}
