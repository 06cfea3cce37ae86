//! The stages in order: each stage's cells follow from the previous stages' rows by the
//! pre-registered rules; rows already in the folder are skipped (resume); `shard` runs every
//! N-th (cell, seed) row of a stage; a stage whose predecessor is incomplete waits.

use super::analysis;
use super::design::{self, Cell, CellEval, Recipe, Stage};
use super::rows::{self, Key, Row};
use super::train::{calibrate_rate, enn_key, ensure_enn, recipe_episodes, run_cell, sizes};
use super::StudyConfig;
use crate::data::{Dataset, Mnist};
use crate::error::{Error, Result};
use crate::experiment::progress::Progress;
use crate::instructor::EvaluationNet;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// Seconds between rewrites of this process's CSV file during a stage.
const WRITE_EVERY_SECS: f64 = 5.0;

/// How this process runs the study.
#[derive(Clone, Debug, PartialEq)]
pub struct StudyOptions {
    /// Runs in parallel.
    pub jobs: usize,
    /// `(index, count)`: run the rows whose index in a stage's work list is `index mod count`.
    pub shard: (u64, u64),
    /// Run stages up to this one (4: all; the report and verdict follow when complete).
    pub until_stage: u8,
    /// The command line, for the report.
    pub command: String,
}

/// Where the study stands after a call.
#[derive(Clone, Debug, PartialEq)]
pub enum StudyStatus {
    /// Every stage is complete; the report (with the verdict) is written.
    Complete,
    /// This stage cannot start: its predecessor has rows missing (other shards).
    Waiting(u8),
    /// Stopped after `until_stage` (the report covers the stages done).
    Stopped(u8),
}

/// The data of the study: S_train / S_val from the training set, and the full training and
/// test sets for stage 4 only.
pub struct StudyData {
    /// The 50,000-image selection training set.
    pub s_train: Dataset,
    /// The 10,000-image selection validation set.
    pub s_val: Dataset,
    /// All training images (stage 4).
    pub full_train: Dataset,
    /// The test set (stage 4).
    test: Dataset,
}

impl StudyData {
    /// Loads MNIST and makes the seeded split.
    pub fn load(cfg: &StudyConfig) -> Result<StudyData> {
        let dir = Mnist::locate(cfg.data_dir.as_deref())?;
        let m = Mnist::load(&dir)?;
        let cut = |d: Dataset, n: Option<usize>| n.map_or(d.clone(), |n| d.take(n));
        let full_train = cut(m.train, cfg.train_limit);
        let test = cut(m.test, cfg.test_limit);
        let (s_train, s_val) = full_train.split_validation(
            cfg.validation_images,
            &mut StdRng::seed_from_u64(cfg.seed ^ 0x57D1),
        )?;
        Ok(StudyData {
            s_train,
            s_val,
            full_train,
            test,
        })
    }

    /// `(training set, evaluation set)` of a stage: the test set is handed out for stage 4
    /// only.
    pub fn for_stage(&self, stage: Stage) -> (&Dataset, &Dataset) {
        if stage == Stage::Confirmation {
            (&self.full_train, &self.test)
        } else {
            (&self.s_train, &self.s_val)
        }
    }
}

/// The cells of a stage, or `None` when a previous stage is incomplete.
pub fn plan(
    cfg: &StudyConfig,
    stage: Stage,
    all: &BTreeMap<Key, Row>,
) -> Result<Option<Vec<Cell>>> {
    let calib = design::calibration_cells(cfg);
    if stage == Stage::Calibration {
        return Ok(Some(calib));
    }
    if !complete(cfg, 1, &calib, all) {
        return Ok(None);
    }
    let (d, e) = analysis::regime(cfg, all)?;
    let ceilings = design::ceiling_cells(cfg, d, e);
    if stage == Stage::Ceilings {
        return Ok(Some(ceilings));
    }
    let variants = design::variant_cells(cfg, d, e);
    if stage == Stage::Variants {
        return Ok(Some(variants));
    }
    if !complete(cfg, 2, &ceilings, all) || !complete(cfg, 3, &variants, all) {
        return Ok(None);
    }
    let control = analysis::best_control(cfg, all, &ceilings)?;
    let selected = analysis::selected_variant(cfg, all, &variants)?;
    Ok(Some(design::confirmation_cells(
        cfg, d, e, &control, &selected,
    )))
}

/// The keys of a stage's runs, in work-list order.
pub fn keys(cfg: &StudyConfig, stage: u8, cells: &[Cell]) -> Vec<(usize, Key)> {
    cells
        .iter()
        .enumerate()
        .flat_map(|(i, c)| {
            c.runs().into_iter().map(move |(s, e)| {
                (
                    i,
                    (
                        stage,
                        c.name.clone(),
                        cfg.seed_of(s),
                        e.map(|e| cfg.seed_of(e)),
                    ),
                )
            })
        })
        .collect()
}

/// Whether every run of the stage has a row.
pub fn complete(cfg: &StudyConfig, stage: u8, cells: &[Cell], all: &BTreeMap<Key, Row>) -> bool {
    keys(cfg, stage, cells)
        .iter()
        .all(|(_, k)| all.contains_key(k))
}

/// Calls `f` on every item on `jobs` threads; the first error stops the workers.
fn par_each<T: Sync>(items: &[T], jobs: usize, f: impl Fn(&T) -> Result<()> + Sync) -> Result<()> {
    let next = AtomicUsize::new(0);
    let first_error = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(items.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= items.len() || first_error.lock().unwrap().is_some() {
                    break;
                }
                if let Err(e) = f(&items[i]) {
                    first_error.lock().unwrap().get_or_insert(e);
                }
            });
        }
    });
    match first_error.into_inner().unwrap() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

fn shard_file(out: &Path, shard: (u64, u64)) -> PathBuf {
    if shard.1 <= 1 {
        out.join("study.csv")
    } else {
        out.join(format!("study-shard-{}-of-{}.csv", shard.0, shard.1))
    }
}

/// The ENN a run needs: `(file key, recipe, absolute ENN seed)`.
fn enn_need(
    cfg: &StudyConfig,
    stage: u8,
    cell: &Cell,
    enn_seed: Option<u64>,
) -> Option<(String, Recipe, u64)> {
    match (cell.eval, enn_seed) {
        (
            CellEval::Enn {
                variant, rho_index, ..
            },
            Some(e),
        ) => {
            let recipe = variant.recipe(rho_index);
            Some((enn_key(recipe, &cfg.rho, cell.depth, stage, e), recipe, e))
        }
        _ => None,
    }
}

/// Runs the study into `out` (see the module docs).
pub fn run_study(
    cfg: &StudyConfig,
    out: &Path,
    opts: &StudyOptions,
    progress: &dyn Progress,
) -> Result<StudyStatus> {
    let (index, count) = opts.shard;
    if count == 0 || index >= count {
        return Err(Error::Usage(format!(
            "shard {index}/{count}: need 0 <= I < N"
        )));
    }
    if !(1..=4).contains(&opts.until_stage) {
        return Err(Error::Usage(format!(
            "until-stage {}: stages are 1 to 4",
            opts.until_stage
        )));
    }
    std::fs::create_dir_all(out.join("enns")).map_err(|e| Error::io(out, e))?;
    let config_json = serde_json::to_string_pretty(cfg)
        .map_err(|e| Error::invalid("study config", format!("cannot serialize the config: {e}")))?;
    check_config(out, &config_json)?;
    let data = StudyData::load(cfg)?;
    let mut all = rows::read_dir_rows(out)?;
    let my_file = shard_file(out, opts.shard);
    let mine = Mutex::new(rows::read_file(&my_file)?);
    for stage in Stage::ALL {
        if stage.number() > opts.until_stage {
            analysis::write_report(cfg, &all, out, &opts.command)?;
            return Ok(StudyStatus::Stopped(opts.until_stage));
        }
        let Some(cells) = plan(cfg, stage, &all)? else {
            analysis::write_report(cfg, &all, out, &opts.command)?;
            return Ok(StudyStatus::Waiting(stage.number()));
        };
        let n = stage.number();
        let todo: Vec<(usize, Key)> = keys(cfg, n, &cells)
            .into_iter()
            .enumerate()
            .filter(|(i, (_, k))| *i as u64 % count == index && !all.contains_key(k))
            .map(|(_, w)| w)
            .collect();
        if todo.is_empty() {
            continue;
        }
        let (train, eval) = data.for_stage(stage);
        // The ENNs of this shard's rows: loaded, or trained in parallel.
        let needs: BTreeSet<(String, Recipe, u64, usize)> = todo
            .iter()
            .filter_map(|(i, k)| {
                enn_need(cfg, n, &cells[*i], k.3).map(|(key, r, e)| (key, r, e, cells[*i].depth))
            })
            .collect();
        let needs: Vec<_> = needs.into_iter().collect();
        let episodes: usize = needs
            .iter()
            .filter(|(key, ..)| !out.join("enns").join(format!("{key}.safetensors")).exists())
            .map(|(_, r, ..)| recipe_episodes(cfg, *r))
            .sum();
        progress.start(&format!("stage {n}: ENN training"), episodes as u64);
        let enns = Mutex::new(HashMap::new());
        par_each(&needs, opts.jobs, |(key, recipe, enn_seed, depth)| {
            let path = out.join("enns").join(format!("{key}.safetensors"));
            let sz = sizes(cfg, train.dim, *depth);
            let enn = ensure_enn(cfg, *recipe, &sz, *enn_seed, train, &path, || {
                progress.advance(1, &format!("ENN {key}"))
            })?;
            enns.lock().unwrap().insert(key.clone(), enn);
            Ok(())
        })?;
        progress.finish();
        let enns: HashMap<String, EvaluationNet> = enns.into_inner().unwrap();
        // The rate of every (cell, ENN) pair the rows use.
        let mut rates: HashMap<(usize, Option<u64>), f64> = HashMap::new();
        for (i, k) in &todo {
            let slot = (*i, k.3);
            if rates.contains_key(&slot) {
                continue;
            }
            let enn = enn_need(cfg, n, &cells[*i], k.3).map(|(key, ..)| &enns[&key]);
            rates.insert(slot, calibrate_rate(cfg, &cells[*i], enn, train)?);
        }
        progress.start(
            &format!("stage {n}: {} runs", todo.len()),
            todo.len() as u64,
        );
        let new_rows = Mutex::new(Vec::new());
        let last_write = Mutex::new(Instant::now());
        let ran = par_each(&todo, opts.jobs, |(i, k)| {
            let cell = &cells[*i];
            let enn = enn_need(cfg, n, cell, k.3).map(|(key, ..)| (k.3.unwrap_or(0), &enns[&key]));
            let row = run_cell(
                cfg,
                n,
                cell,
                k.2,
                enn,
                rates[&(*i, k.3)],
                train,
                eval,
                stage == Stage::Confirmation,
            )?;
            progress.advance(
                1,
                &format!(
                    "stage {n} {} seed {}{}: {:.2}%",
                    cell.name,
                    k.2,
                    k.3.map_or(String::new(), |e| format!(" ENN {e}")),
                    100.0 * row.acc
                ),
            );
            let mut m = mine.lock().unwrap();
            m.push(row.clone());
            // The file is rewritten atomically (and fsynced) at most every few seconds, and
            // after the stage: a crash loses at most those seconds of runs.
            let mut last = last_write.lock().unwrap();
            if last.elapsed().as_secs_f64() > WRITE_EVERY_SECS {
                rows::write_file(&my_file, &m)?;
                *last = Instant::now();
            }
            new_rows.lock().unwrap().push(row);
            Ok(())
        });
        rows::write_file(&my_file, &mine.lock().unwrap())?;
        ran?;
        progress.finish();
        for r in new_rows.into_inner().unwrap() {
            all.insert(r.key(), r);
        }
        analysis::write_report(cfg, &all, out, &opts.command)?;
    }
    let cells4 = plan(cfg, Stage::Confirmation, &all)?;
    let done = cells4.is_some_and(|c| complete(cfg, 4, &c, &all));
    analysis::write_report(cfg, &all, out, &opts.command)?;
    Ok(if done {
        StudyStatus::Complete
    } else {
        StudyStatus::Waiting(4)
    })
}

/// The folder's `study-config.json` must equal this config (written on first use): rows of
/// two different configurations never mix.
fn check_config(out: &Path, json: &str) -> Result<()> {
    let path = out.join("study-config.json");
    match std::fs::read_to_string(&path) {
        Ok(old) if old == json => Ok(()),
        Ok(_) => Err(Error::invalid(
            "study",
            format!(
                "{} holds a study with another configuration ({}); use another --out",
                out.display(),
                path.display()
            ),
        )),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            crate::io::atomic::write_atomic(&path, json.as_bytes())
        }
        Err(e) => Err(Error::io(&path, e)),
    }
}

/// Unions the rows and ENNs of several study folders into `out` and writes the report.
pub fn merge(
    cfg: &StudyConfig,
    dirs: &[PathBuf],
    out: &Path,
    command: &str,
) -> Result<StudyStatus> {
    let mut all_rows = Vec::new();
    std::fs::create_dir_all(out.join("enns")).map_err(|e| Error::io(out, e))?;
    let json = serde_json::to_string_pretty(cfg)
        .map_err(|e| Error::invalid("study config", e.to_string()))?;
    for d in dirs {
        check_config(d, &json)?;
        all_rows.extend(rows::read_dir_rows(d)?.into_values());
        let enns = d.join("enns");
        if let Ok(entries) = std::fs::read_dir(&enns) {
            for e in entries {
                let e = e.map_err(|err| Error::io(&enns, err))?;
                let target = out.join("enns").join(e.file_name());
                if !target.exists() {
                    let bytes = std::fs::read(e.path()).map_err(|err| Error::io(e.path(), err))?;
                    crate::io::atomic::write_atomic(&target, &bytes)?;
                }
            }
        }
    }
    check_config(out, &json)?;
    let all = rows::union(all_rows)?;
    let list: Vec<Row> = all.values().cloned().collect();
    rows::write_file(&out.join("study.csv"), &list)?;
    analysis::write_report(cfg, &all, out, command)?;
    let cells4 = plan(cfg, Stage::Confirmation, &all)?;
    Ok(match cells4 {
        Some(c) if complete(cfg, 4, &c, &all) => StudyStatus::Complete,
        _ => StudyStatus::Waiting(
            (1..=4)
                .find(|&s| {
                    plan(cfg, Stage::from_number(s).expect("1..=4"), &all)
                        .ok()
                        .flatten()
                        .is_none_or(|c| !complete(cfg, s, &c, &all))
                })
                .unwrap_or(4),
        ),
    })
}
