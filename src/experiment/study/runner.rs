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
use std::collections::hash_map::Entry;
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

/// The options must name a shard and a stage that exist.
fn check_options(opts: &StudyOptions) -> Result<()> {
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
    Ok(())
}

/// The configuration as recorded in `study-config.json`.
fn config_json(cfg: &StudyConfig) -> Result<String> {
    serde_json::to_string_pretty(cfg)
        .map_err(|e| Error::invalid("study config", format!("cannot serialize the config: {e}")))
}

/// Runs the study into `out` (see the module docs).
pub fn run_study(
    cfg: &StudyConfig,
    out: &Path,
    opts: &StudyOptions,
    progress: &dyn Progress,
) -> Result<StudyStatus> {
    check_options(opts)?;
    std::fs::create_dir_all(out.join("enns")).map_err(|e| Error::io(out, e))?;
    check_config(out, &config_json(cfg)?)?;
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
        let (index, count) = opts.shard;
        let todo: Vec<(usize, Key)> = keys(cfg, stage.number(), &cells)
            .into_iter()
            .enumerate()
            .filter(|(i, (_, k))| *i as u64 % count == index && !all.contains_key(k))
            .map(|(_, w)| w)
            .collect();
        if todo.is_empty() {
            continue;
        }
        let (train, eval) = data.for_stage(stage);
        let run = StageRun {
            cfg,
            stage,
            cells: &cells,
            train,
            eval,
            out,
            jobs: opts.jobs,
            progress,
        };
        for r in run.run(&todo, &my_file, &mine)? {
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

/// One stage's rows of this process: its ENNs, the rates, the runs.
struct StageRun<'a> {
    cfg: &'a StudyConfig,
    stage: Stage,
    cells: &'a [Cell],
    train: &'a Dataset,
    eval: &'a Dataset,
    out: &'a Path,
    jobs: usize,
    progress: &'a dyn Progress,
}

impl StageRun<'_> {
    /// The ENN of a run (by its cell index and ENN seed), if it has one.
    fn need(&self, cell: usize, enn_seed: Option<u64>) -> Option<(String, Recipe, u64)> {
        enn_need(self.cfg, self.stage.number(), &self.cells[cell], enn_seed)
    }

    fn enn_path(&self, key: &str) -> PathBuf {
        self.out.join("enns").join(format!("{key}.safetensors"))
    }

    /// Runs `todo` (cell index, key) and returns the new rows; `my_file` (this process's
    /// CSV, holding `mine`) is rewritten as rows arrive and after the stage.
    fn run(
        &self,
        todo: &[(usize, Key)],
        my_file: &Path,
        mine: &Mutex<Vec<Row>>,
    ) -> Result<Vec<Row>> {
        let enns = self.enns(todo)?;
        // The rate of every (cell, ENN) pair the rows use.
        let mut rates: HashMap<(usize, Option<u64>), f64> = HashMap::new();
        for (i, k) in todo {
            if let Entry::Vacant(slot) = rates.entry((*i, k.3)) {
                let enn = self.need(*i, k.3).map(|(key, ..)| &enns[&key]);
                slot.insert(calibrate_rate(self.cfg, &self.cells[*i], enn, self.train)?);
            }
        }
        let n = self.stage.number();
        self.progress.start(
            &format!("stage {n}: {} runs", todo.len()),
            todo.len() as u64,
        );
        let new_rows = Mutex::new(Vec::new());
        let last_write = Mutex::new(Instant::now());
        let ran = par_each(todo, self.jobs, |(i, k)| {
            let row = self.run_one(*i, k, &enns, rates[&(*i, k.3)])?;
            let mut m = mine.lock().unwrap();
            m.push(row.clone());
            // The file is rewritten atomically (and fsynced) at most every few seconds, and
            // after the stage: a crash loses at most those seconds of runs.
            let mut last = last_write.lock().unwrap();
            if last.elapsed().as_secs_f64() > WRITE_EVERY_SECS {
                rows::write_file(my_file, &m)?;
                *last = Instant::now();
            }
            new_rows.lock().unwrap().push(row);
            Ok(())
        });
        rows::write_file(my_file, &mine.lock().unwrap())?;
        ran?;
        self.progress.finish();
        Ok(new_rows.into_inner().unwrap())
    }

    /// The ENNs the rows need: loaded from `enns/`, or trained in parallel.
    fn enns(&self, todo: &[(usize, Key)]) -> Result<HashMap<String, EvaluationNet>> {
        let needs: BTreeSet<(String, Recipe, u64, usize)> = todo
            .iter()
            .filter_map(|(i, k)| {
                let depth = self.cells[*i].depth;
                self.need(*i, k.3).map(|(key, r, e)| (key, r, e, depth))
            })
            .collect();
        let needs: Vec<_> = needs.into_iter().collect();
        let episodes: usize = needs
            .iter()
            .filter(|(key, ..)| !self.enn_path(key).exists())
            .map(|(_, r, ..)| recipe_episodes(self.cfg, *r))
            .sum();
        let n = self.stage.number();
        self.progress
            .start(&format!("stage {n}: ENN training"), episodes as u64);
        let enns = Mutex::new(HashMap::new());
        par_each(&needs, self.jobs, |(key, recipe, enn_seed, depth)| {
            let sz = sizes(self.cfg, self.train.dim, *depth);
            let path = self.enn_path(key);
            let enn = ensure_enn(self.cfg, *recipe, &sz, *enn_seed, self.train, &path, || {
                self.progress.advance(1, &format!("ENN {key}"))
            })?;
            enns.lock().unwrap().insert(key.clone(), enn);
            Ok(())
        })?;
        self.progress.finish();
        Ok(enns.into_inner().unwrap())
    }

    /// One run: cell `i`, row key `k`.
    fn run_one(
        &self,
        i: usize,
        k: &Key,
        enns: &HashMap<String, EvaluationNet>,
        rate: f64,
    ) -> Result<Row> {
        let (n, cell) = (self.stage.number(), &self.cells[i]);
        let enn = self
            .need(i, k.3)
            .map(|(key, ..)| (k.3.unwrap_or(0), &enns[&key]));
        let confirm = self.stage == Stage::Confirmation;
        let row = run_cell(
            self.cfg, n, cell, k.2, enn, rate, self.train, self.eval, confirm,
        )?;
        let with_enn = k.3.map_or(String::new(), |e| format!(" ENN {e}"));
        let msg = format!(
            "stage {n} {} seed {}{with_enn}: {:.2}%",
            cell.name,
            k.2,
            100.0 * row.acc
        );
        self.progress.advance(1, &msg);
        Ok(row)
    }
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
    let json = config_json(cfg)?;
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
