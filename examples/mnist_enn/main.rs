//! The main experiment: `cargo run --release --example mnist_enn -- --help`.
//!
//! 1. Loads MNIST (shipped in `data/mnist/`).
//! 2. Trains the Evaluation Neural Network with REINFORCE (or loads one with `--enn`).
//! 3. Trains the target MLP (784-100-10, ReLU) under each arm — backprop, backprop + L1,
//!    He init, Grad-Instructor — over several seeds, and prints per arm the mean ± std of
//!    test accuracy, train accuracy and the train−test gap, with Welch's t-test of
//!    Grad-Instructor against each other arm.
//! 4. Explains the ENN with Grad-CAM and runs the lottery-ticket test; optionally tests which
//!    cheap statistic predicts the best ENN (`--predict-enn M`).
//! 5. Writes CSV/JSON, the ENN weights and `report.html` / `report.md` into the output folder.

mod analysis;
mod cli;
mod output;

use grad_instructor::data::{Dataset, Mnist};
use grad_instructor::instructor::experiment::{run_arm, Arm, RunResult, TrainConfig};
use grad_instructor::instructor::{
    train_enn_resumable, Checkpoints, EnnTrainingConfig, EpisodeLog, EvaluationNet, TrainRng,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

type AnyError = Box<dyn std::error::Error>;

/// `runs/YYYYMMDD-HHMMSS` in UTC (days-to-civil conversion, H. Hinnant's algorithm).
fn default_out_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    PathBuf::from(format!(
        "runs/{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    ))
}

/// The ENN's training split: `(episode training images, validation images for the reward)`,
/// carved from the *training* set with a seeded shuffle (the test set is never used).
pub fn enn_split(train: &Dataset, seed: u64, quick: bool) -> Result<(Dataset, Dataset), AnyError> {
    let n_val = if quick { 1000 } else { 10000 }.min(train.len() / 2);
    Ok(train.split_validation(n_val, &mut StdRng::seed_from_u64(seed ^ 0xE1A1))?)
}

/// Trains an ENN from `seed` with `cfg`, printing one progress line per episode.
pub fn train_one_enn(
    cfg: &EnnTrainingConfig,
    split: &(Dataset, Dataset),
    seed: u64,
    label: &str,
) -> Result<(EvaluationNet, Vec<EpisodeLog>), AnyError> {
    train_one_enn_checkpointed(cfg, split, seed, label, None, None)
}

/// [`train_one_enn`] writing checkpoints into `checkpoint_dir` (every
/// `cfg.checkpoint_every` episodes) and, with `resume_from`, continuing from the checkpoint
/// there. The ENN's initial weights and then the episodes draw from one RNG seeded with
/// `seed`; a resumed run re-creates it the same way (the checkpoint says how far to skip).
pub fn train_one_enn_checkpointed(
    cfg: &EnnTrainingConfig,
    split: &(Dataset, Dataset),
    seed: u64,
    label: &str,
    checkpoint_dir: Option<&Path>,
    resume_from: Option<&Path>,
) -> Result<(EvaluationNet, Vec<EpisodeLog>), AnyError> {
    let (tr, val) = split;
    let mut rng = TrainRng::seed_from_u64(seed);
    let mut enn = EvaluationNet::new(&mut rng)?;
    if let Some(dir) = resume_from {
        eprintln!("[{label}] resuming from {}", dir.display());
    }
    let total = cfg.episodes;
    let on_episode = |log: &EpisodeLog| {
        eprintln!(
            "[{label} {}/{total}] reward {:.4} baseline {:.4} E(final) {:.4} multipliers {:?}",
            log.episode + 1,
            log.reward,
            log.baseline,
            log.final_score,
            log.chosen_multipliers
        );
    };
    let ckpt = Checkpoints {
        save_to: checkpoint_dir,
        resume_from,
    };
    let logs = train_enn_resumable(&mut enn, cfg, tr, val, &mut rng, ckpt, on_episode)?;
    Ok((enn, logs))
}

/// Saves an ENN as safetensors (atomically).
pub fn save_enn(
    path: &Path,
    enn: &EvaluationNet,
    metadata: &[(&str, &str)],
) -> Result<(), AnyError> {
    Ok(enn.save(path, metadata)?)
}

/// Loads an ENN saved by [`save_enn`].
pub fn load_enn(path: &Path) -> Result<EvaluationNet, AnyError> {
    Ok(EvaluationNet::load(path)?)
}

/// Trains `work` (arm, seed) pairs on `jobs` threads; results in the order of `work`.
pub fn run_all(
    work: &[(Arm, u64)],
    cfg: &TrainConfig,
    jobs: usize,
    train: &Dataset,
    test: &Dataset,
    enn: Option<&EvaluationNet>,
) -> Result<Vec<RunResult>, AnyError> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.min(work.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= work.len() || first_error.lock().unwrap().is_some() {
                    break;
                }
                let (arm, seed) = work[i];
                let progress = |epoch: usize, loss: f64| {
                    eprintln!(
                        "[{:>2}/{}] {} seed {seed}: epoch {}/{} mean loss {loss:.4}",
                        i + 1,
                        work.len(),
                        arm.name(),
                        epoch + 1,
                        cfg.epochs
                    );
                };
                match run_arm(arm, seed, cfg, train, test, enn, progress) {
                    Ok(r) => results.lock().unwrap().push((i, r)),
                    Err(e) => {
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e.into());
    }
    let mut r = results.into_inner().unwrap();
    r.sort_by_key(|(i, _)| *i);
    Ok(r.into_iter().map(|(_, r)| r).collect())
}

fn run() -> Result<(), AnyError> {
    let Some(a) = cli::parse()? else {
        return Ok(());
    };
    let out = a.out.clone().unwrap_or_else(default_out_dir);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    if !a.merge.is_empty() {
        return output::merge(&a.merge, &out, &command);
    }
    let started = Instant::now();
    let dir = Mnist::locate(a.data.as_deref())?;
    let mnist = Mnist::load(&dir)?;
    let (train, test) = if a.quick {
        (mnist.train.take(6000), mnist.test.take(2000))
    } else {
        (mnist.train, mnist.test)
    };
    eprintln!(
        "MNIST from {}: {} train / {} test images; {}; {} jobs",
        dir.display(),
        train.len(),
        test.len(),
        a.describe(),
        a.jobs
    );

    // 1. The ENN: trained here (REINFORCE by default) or loaded.
    let needs_enn = a.arms.contains(&Arm::GradInstructor) || a.explain || a.predict_enn > 0;
    let mut enn_logs = Vec::new();
    let mut enn_secs = 0.0;
    let enn = if !needs_enn {
        None
    } else if let Some(path) = &a.enn_path {
        eprintln!("ENN loaded from {}", path.display());
        Some(load_enn(path)?)
    } else {
        let t = Instant::now();
        let split = enn_split(&train, a.enn_seed, a.quick)?;
        let resume_from = a.resume.as_ref().map(|d| d.join("enn_checkpoint"));
        let (enn, logs) = train_one_enn_checkpointed(
            &a.enn,
            &split,
            a.enn_seed,
            "enn",
            Some(&out.join("enn_checkpoint")),
            resume_from.as_deref(),
        )?;
        enn_secs = t.elapsed().as_secs_f64();
        let rule = format!("{:?}", a.enn.rule);
        save_enn(
            &out.join("enn.safetensors"),
            &enn,
            &[("rule", &rule), ("episodes", &a.enn.episodes.to_string())],
        )?;
        enn_logs = logs;
        Some(enn)
    };

    // 2. The arms.
    let work: Vec<(Arm, u64)> = a
        .arms
        .iter()
        .flat_map(|&arm| (0..a.seeds).map(move |s| (arm, a.seed_start + s)))
        .enumerate()
        .filter(|(i, _)| *i as u64 % a.shard.1 == a.shard.0)
        .map(|(_, w)| w)
        .collect();
    let t = Instant::now();
    let results = run_all(&work, &a.cfg, a.jobs, &train, &test, enn.as_ref())?;
    let arms_secs = t.elapsed().as_secs_f64();

    // 3. Explanations and analyses.
    let explained = match (&enn, a.explain) {
        (Some(enn), true) => Some(analysis::explain(enn, &a, &results, &train, &test)?),
        _ => None,
    };
    let mut predict_secs = 0.0;
    let prediction = if a.predict_enn > 0 {
        let t = Instant::now();
        let p = analysis::predict_best_enn(&a, &results, &train, &test)?;
        predict_secs = t.elapsed().as_secs_f64();
        Some(p)
    } else {
        None
    };

    // 4. Files, table, report.
    let timing = output::Timing {
        enn_secs,
        arms_secs,
        predict_secs,
        total_secs: started.elapsed().as_secs_f64(),
    };
    output::write_all(
        &out,
        &command,
        &a,
        &results,
        &enn_logs,
        explained.as_ref(),
        prediction.as_ref(),
        &timing,
    )?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
