//! `study.csv`: one row per (stage, cell, MLP seed, ENN seed), read back for resumption,
//! sharding and merging.

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The CSV header.
pub const HEADER: &str = "stage,cell,seed,enn_seed,rate,acc,train_acc,curve,steps,secs";

/// One finished run.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// 1…4.
    pub stage: u8,
    /// The cell's name.
    pub cell: String,
    /// Absolute MLP seed.
    pub seed: u64,
    /// Absolute ENN seed, if the cell has an ENN.
    pub enn_seed: Option<u64>,
    /// The evaluator's rate (le or fraction) the run used; NaN without an evaluator.
    pub rate: f64,
    /// Accuracy on the stage's evaluation set (S_val, or the test set in stage 4), in [0, 1].
    pub acc: f64,
    /// Accuracy on the run's training set (stage 4 only; NaN elsewhere).
    pub train_acc: f64,
    /// Evaluation accuracy after each epoch (stage 1 only).
    pub curve: Vec<f64>,
    /// Optimizer steps.
    pub steps: usize,
    /// Seconds of training (not part of the results).
    pub secs: f64,
}

/// The identity of a row.
pub type Key = (u8, String, u64, Option<u64>);

impl Row {
    /// (stage, cell, seed, ENN seed).
    pub fn key(&self) -> Key {
        (self.stage, self.cell.clone(), self.seed, self.enn_seed)
    }

    /// Equal in everything but the timing.
    pub fn same_result(&self, other: &Row) -> bool {
        let eq = |a: f64, b: f64| a == b || (a.is_nan() && b.is_nan());
        self.key() == other.key()
            && eq(self.rate, other.rate)
            && eq(self.acc, other.acc)
            && eq(self.train_acc, other.train_acc)
            && self.curve == other.curve
            && self.steps == other.steps
    }

    fn to_line(&self) -> String {
        let f = |x: f64| {
            if x.is_nan() {
                String::new()
            } else {
                format!("{x}")
            }
        };
        let curve: Vec<String> = self.curve.iter().map(|&x| format!("{x}")).collect();
        format!(
            "{},{},{},{},{},{},{},{},{},{:.3}",
            self.stage,
            self.cell,
            self.seed,
            self.enn_seed.map_or(String::new(), |e| e.to_string()),
            f(self.rate),
            f(self.acc),
            f(self.train_acc),
            curve.join(";"),
            self.steps,
            self.secs
        )
    }

    fn parse(line: &str, path: &Path, lineno: usize) -> Result<Row> {
        let bad = |what: &str| {
            Error::invalid(
                "study.csv",
                format!("{}:{lineno}: {what}: {line:?}", path.display()),
            )
        };
        let f: Vec<&str> = line.split(',').collect();
        if f.len() != 10 {
            return Err(bad("expected 10 fields"));
        }
        let num = |s: &str| -> Result<f64> {
            if s.is_empty() {
                Ok(f64::NAN)
            } else {
                s.parse().map_err(|_| bad("not a number"))
            }
        };
        let int = |s: &str| -> Result<u64> { s.parse().map_err(|_| bad("not an integer")) };
        Ok(Row {
            stage: f[0].parse().map_err(|_| bad("bad stage"))?,
            cell: f[1].to_string(),
            seed: int(f[2])?,
            enn_seed: if f[3].is_empty() {
                None
            } else {
                Some(int(f[3])?)
            },
            rate: num(f[4])?,
            acc: num(f[5])?,
            train_acc: num(f[6])?,
            curve: if f[7].is_empty() {
                Vec::new()
            } else {
                f[7].split(';').map(num).collect::<Result<_>>()?
            },
            steps: int(f[8])? as usize,
            secs: num(f[9])?,
        })
    }
}

/// Reads one CSV file (missing file: no rows).
pub fn read_file(path: &Path) -> Result<Vec<Row>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(path, e)),
    };
    let mut lines = text.lines();
    match lines.next() {
        None => return Ok(Vec::new()),
        Some(h) if h.trim() == HEADER => {}
        Some(h) => {
            return Err(Error::invalid(
                "study.csv",
                format!("{}: unexpected header {h:?}", path.display()),
            ))
        }
    }
    lines
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| Row::parse(l, path, i + 2))
        .collect()
}

/// Writes rows atomically, sorted by key.
pub fn write_file(path: &Path, rows: &[Row]) -> Result<()> {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by_key(|r| r.key());
    let mut s = String::from(HEADER);
    s.push('\n');
    for r in sorted {
        s.push_str(&r.to_line());
        s.push('\n');
    }
    write_atomic(path, s.as_bytes())
}

/// The CSV files of a study folder: `study.csv` and `study-shard-*.csv`, sorted.
pub fn csv_files(dir: &Path) -> Result<Vec<PathBuf>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(dir, e)),
    };
    let mut files = Vec::new();
    for e in entries {
        let e = e.map_err(|err| Error::io(dir, err))?;
        let name = e.file_name().to_string_lossy().to_string();
        if name == "study.csv" || (name.starts_with("study-shard-") && name.ends_with(".csv")) {
            files.push(e.path());
        }
    }
    files.sort();
    Ok(files)
}

/// The union of rows; a key present twice with different results is an error.
pub fn union(rows: impl IntoIterator<Item = Row>) -> Result<BTreeMap<Key, Row>> {
    let mut map: BTreeMap<Key, Row> = BTreeMap::new();
    for r in rows {
        match map.get(&r.key()) {
            Some(old) if !old.same_result(&r) => {
                return Err(Error::invalid(
                    "study rows",
                    format!(
                        "stage {} cell {} seed {} has two different results",
                        r.stage, r.cell, r.seed
                    ),
                ))
            }
            Some(_) => {}
            None => {
                map.insert(r.key(), r);
            }
        }
    }
    Ok(map)
}

/// Every row of a study folder.
pub fn read_dir_rows(dir: &Path) -> Result<BTreeMap<Key, Row>> {
    let mut all = Vec::new();
    for f in csv_files(dir)? {
        all.extend(read_file(&f)?);
    }
    union(all)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_round_trip_exactly_and_conflicts_are_errors() {
        let r = Row {
            stage: 1,
            cell: "d2/bp".into(),
            seed: 3,
            enn_seed: None,
            rate: f64::NAN,
            acc: 0.9123,
            train_acc: f64::NAN,
            curve: vec![0.8, 0.85, 0.1 + 0.2],
            steps: 782,
            secs: 0.61,
        };
        let mut g = r.clone();
        g.stage = 3;
        g.cell = "onpolicy@0.3".into();
        g.enn_seed = Some(1);
        g.rate = 1.234e-3;
        g.curve.clear();
        let dir = std::env::temp_dir().join(format!("gi-study-rows-{}", std::process::id()));
        let path = dir.join("study.csv");
        write_file(&path, &[g.clone(), r.clone()]).unwrap();
        let back = read_dir_rows(&dir).unwrap();
        assert_eq!(back.len(), 2);
        assert!(back[&r.key()].same_result(&r));
        assert!(back[&g.key()].same_result(&g));
        let mut other = r.clone();
        other.acc = 0.9124;
        assert!(union([r.clone(), other]).is_err());
        let mut slower = r.clone();
        slower.secs = 9.0;
        assert_eq!(union([r.clone(), slower]).unwrap().len(), 1);
        std::fs::write(&path, "stage,cell\n").unwrap();
        assert!(read_file(&path).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
