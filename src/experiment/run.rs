//! One comparison run from its configuration: load the data, get the ENN (train or load),
//! train every (arm, seed) of this shard, explain, run the prediction study.

use super::arm::RunResult;
use super::config::ExperimentConfig;
use super::enn::{enn_split, load_enn, save_enn, train_one_enn_checkpointed};
use super::explain::{coverage_of, explain, EnnCoverage, Explained};
use super::predict::{predict_best_enn, predict_units, Prediction};
use super::progress::Progress;
use super::runner::run_all;
use super::summary::{summarize, ArmSummary, RunRecord};
use super::validate::ConfigError;
use crate::data::{Dataset, Mnist};
use crate::error::{Error, Result};
use crate::instructor::{pixel_variance, EpisodeLog, EvaluationNet};
use std::path::{Path, PathBuf};
use std::time::Instant;

/// Why a run failed: its configuration (checked before any work), or the work itself.
#[derive(Debug)]
pub enum RunError {
    /// A field out of range; nothing was done.
    Config(ConfigError),
    /// Loading, training or writing failed.
    Failed(Error),
}

impl std::fmt::Display for RunError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RunError::Config(e) => e.fmt(f),
            RunError::Failed(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for RunError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            RunError::Config(e) => Some(e),
            RunError::Failed(e) => Some(e),
        }
    }
}

impl From<Error> for RunError {
    fn from(e: Error) -> Self {
        RunError::Failed(e)
    }
}

impl From<ConfigError> for RunError {
    fn from(e: ConfigError) -> Self {
        RunError::Config(e)
    }
}

/// Where the time went, in seconds.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Timing {
    /// Training the main ENN (0 when loaded or not needed).
    pub enn_secs: f64,
    /// Training the arms.
    pub arms_secs: f64,
    /// The prediction study.
    pub predict_secs: f64,
    /// Everything before writing the outputs.
    pub total_secs: f64,
}

/// Everything a run produced; the output writers take it whole.
pub struct Outcome {
    /// The configuration it ran.
    pub config: ExperimentConfig,
    /// The data folder.
    pub data_dir: PathBuf,
    /// The data set's name (from its folder).
    pub data_name: String,
    /// Training images used.
    pub train_len: usize,
    /// Test images used.
    pub test_len: usize,
    /// Values per image.
    pub input_dim: usize,
    /// Every (arm, seed) run of this shard, in work-list order.
    pub results: Vec<RunResult>,
    /// The main ENN's training log (empty when loaded or not needed).
    pub enn_logs: Vec<EpisodeLog>,
    /// The main ENN's seed: the configured one when trained, the one its file records when
    /// loaded (`None` when the file records none, or no ENN was used).
    pub enn_seed: Option<u64>,
    /// Coverage of W1 by the main ENN's gradient (empty when no ENN was used).
    pub coverage: Vec<EnnCoverage>,
    /// Grad-CAM and the lottery test, when run.
    pub explained: Option<Explained>,
    /// The prediction study, when run.
    pub prediction: Option<Prediction>,
    /// Timings.
    pub timing: Timing,
}

impl Outcome {
    /// The runs' numbers without the networks.
    pub fn records(&self) -> Vec<RunRecord> {
        self.results.iter().map(|r| r.record).collect()
    }

    /// Per-arm summaries of the runs.
    pub fn summaries(&self) -> Vec<ArmSummary> {
        summarize(&self.records())
    }

    /// The configuration line (`MLP [784, 100, 10], 3 epochs, ...`).
    pub fn describe(&self) -> String {
        self.config.describe(self.input_dim)
    }
}

/// A data set's display name from its folder: `MNIST` for a folder named `mnist` (any
/// case), otherwise the folder's name.
pub fn data_name(dir: &Path) -> String {
    let name = dir.file_name().map_or_else(
        || dir.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    if name.eq_ignore_ascii_case("mnist") {
        "MNIST".into()
    } else {
        name
    }
}

/// Loads the configured data: `(folder, train, test)`, each cut to its configured limit.
pub fn load_data(cfg: &ExperimentConfig) -> Result<(PathBuf, Dataset, Dataset)> {
    let dir = Mnist::locate(cfg.data.dir.as_deref())?;
    let mnist = Mnist::load(&dir)?;
    let cut = |d: Dataset, limit: Option<usize>| match limit {
        Some(n) => d.take(n),
        None => d,
    };
    let train = cut(mnist.train, cfg.data.train_limit);
    let test = cut(mnist.test, cfg.data.test_limit);
    Ok((dir, train, test))
}

/// The main ENN of a run and where it came from.
struct MainEnn {
    enn: EvaluationNet,
    /// Its training log (empty when loaded).
    logs: Vec<EpisodeLog>,
    /// Seconds spent training it (0 when loaded).
    secs: f64,
    /// Its seed (see [`Outcome::enn_seed`]).
    seed: Option<u64>,
}

/// The main ENN: loaded from `cfg.enn.load`, or trained (checkpointing into
/// `out/enn_checkpoint`, resuming from `resume/enn_checkpoint`) and saved as
/// `out/enn.safetensors`, whose metadata records its seed and the configuration's fingerprint.
fn main_enn(
    cfg: &ExperimentConfig,
    train: &Dataset,
    out: &Path,
    resume: Option<&Path>,
    progress: &dyn Progress,
) -> Result<MainEnn> {
    if let Some(path) = &cfg.enn.load {
        let enn = load_enn(path)?;
        let seed = crate::io::safetensors::load_checked(path)?
            .meta("seed")
            .and_then(|s| s.parse().ok());
        let (mode, masked) = (enn.image.mode, enn.image.inert.is_some());
        if mode != cfg.enn.image_mode || masked != cfg.enn.mask_inert {
            // Running a loaded ENN on another image than it was trained on would score
            // pictures it has never seen; say so instead of silently choosing one.
            return Err(Error::Usage(format!(
                "the ENN in {} was trained with image mode {} (inert columns masked: {masked}); \
                 this run asks for {} (masked: {}): set the image mode and mask to match, or train a new ENN",
                path.display(),
                mode.name(),
                cfg.enn.image_mode.name(),
                cfg.enn.mask_inert
            )));
        }
        progress.note(&format!(
            "ENN loaded from {} (image mode {}, inert columns masked: {masked})",
            path.display(),
            mode.name()
        ));
        return Ok(MainEnn {
            enn,
            logs: Vec::new(),
            secs: 0.0,
            seed,
        });
    }
    let t = Instant::now();
    let rcfg = cfg.reinforce_config();
    let image = cfg.image_config(train)?;
    let split = enn_split(train, cfg.enn.seed, cfg.enn.validation_images)?;
    let resume_from = resume.map(|d| d.join("enn_checkpoint"));
    progress.start("ENN training", rcfg.episodes as u64);
    let (enn, logs) = train_one_enn_checkpointed(
        &rcfg,
        &image,
        &split,
        cfg.enn.seed,
        "enn",
        Some(&out.join("enn_checkpoint")),
        resume_from.as_deref(),
        progress,
    )?;
    progress.finish();
    let secs = t.elapsed().as_secs_f64();
    let rule = format!("{:?}", rcfg.rule);
    save_enn(
        &out.join("enn.safetensors"),
        &enn,
        &[
            ("rule", &rule),
            ("episodes", &rcfg.episodes.to_string()),
            ("seed", &cfg.enn.seed.to_string()),
            ("config_fingerprint", &cfg.fingerprint()),
        ],
    )?;
    Ok(MainEnn {
        enn,
        logs,
        secs,
        seed: Some(cfg.enn.seed),
    })
}

/// The seeds whose initial W1 the coverage figures are measured on: the run's first five.
pub fn coverage_seeds(cfg: &ExperimentConfig) -> Vec<u64> {
    cfg.seed_list().take(5).collect()
}

/// Validates `cfg` (warnings to `progress`), loads its data and checks the memory budget:
/// everything before the first allocation the configuration sizes. Returns
/// `(data folder, train, test)`.
fn checked_data(
    cfg: &ExperimentConfig,
    progress: &dyn Progress,
) -> std::result::Result<(PathBuf, Dataset, Dataset), RunError> {
    for w in cfg.validate()? {
        progress.warn(&w);
    }
    if !cfg.runs_enn_outputs() {
        progress.note(
            "no gi arm: skipping ENN training, Grad-CAM, the lottery test and the ENN prediction study",
        );
    }
    let (data_dir, train, test) = load_data(cfg)?;
    // The memory budget needs the data's shape, so it follows the (bounded) data load and
    // precedes every allocation the configuration sizes.
    let shape = super::budget::DataShape {
        train: train.len(),
        test: test.len(),
        dim: train.dim,
    };
    super::budget::check(cfg, shape, super::budget::available(cfg))?;
    progress.note(&format!(
        "{} from {}: {} train / {} test images; {}; {} jobs",
        data_name(&data_dir),
        data_dir.display(),
        train.len(),
        test.len(),
        cfg.describe(train.dim),
        cfg.jobs
    ));
    Ok((data_dir, train, test))
}

/// What a run finds out about its ENN after the arms: Grad-CAM and the lottery test, the
/// coverage of W1, the prediction study.
struct EnnStudies {
    explained: Option<Explained>,
    coverage: Vec<EnnCoverage>,
    prediction: Option<Prediction>,
}

/// Runs the ENN studies the configuration asks for (none without an ENN or a `gi` arm),
/// adding the prediction study's seconds to `timing`.
fn enn_studies(
    cfg: &ExperimentConfig,
    enn: Option<&EvaluationNet>,
    results: &[RunResult],
    (train, test): (&Dataset, &Dataset),
    progress: &dyn Progress,
    timing: &mut Timing,
) -> Result<EnnStudies> {
    let Some(enn) = enn else {
        return Ok(EnnStudies {
            explained: None,
            coverage: Vec::new(),
            prediction: None,
        });
    };
    let tc = cfg.train_config(train.dim);
    let explained = if cfg.explain.enabled && cfg.runs_enn_outputs() {
        Some(explain(
            enn,
            cfg.seed_start,
            &tc,
            &cfg.explain,
            results,
            train,
            test,
            cfg.jobs,
            progress,
        )?)
    } else {
        None
    };
    let coverage = vec![coverage_of(
        "main",
        enn,
        &tc,
        &coverage_seeds(cfg),
        &pixel_variance(&train.images, train.dim)?,
        cfg.enn.inert_threshold,
    )?];
    let prediction = if cfg.predict.enns > 0 && cfg.runs_enn_outputs() {
        let t = Instant::now();
        progress.start("ENN prediction study", predict_units(cfg, results));
        let p = predict_best_enn(cfg, results, train, test, progress)?;
        progress.finish();
        timing.predict_secs = t.elapsed().as_secs_f64();
        Some(p)
    } else {
        None
    };
    Ok(EnnStudies {
        explained,
        coverage,
        prediction,
    })
}

/// Runs the whole comparison of `cfg`, writing the ENN and its checkpoints into `out`
/// (the other outputs are written from the returned [`Outcome`] by [`super::output`]).
/// The example passes an [`OutDir`](super::output::OutDir)'s staging folder as `out` and
/// its [`resume_from`](super::output::OutDir::resume_from) as `resume`, so nothing reaches
/// the final folder until every output is written.
///
/// The configuration is validated first ([`ExperimentConfig::validate`]): an out-of-range
/// field is [`RunError::Config`] before anything is loaded or written; warnings go to
/// [`Progress::warn`]. What the configuration makes unnecessary is skipped and said.
pub fn run(
    cfg: &ExperimentConfig,
    out: &Path,
    resume: Option<&Path>,
    progress: &dyn Progress,
) -> std::result::Result<Outcome, RunError> {
    let started = Instant::now();
    let (data_dir, train, test) = checked_data(cfg, progress)?;
    let mut timing = Timing::default();

    // 1. The ENN, trained or loaded, when anything needs it.
    let (enn, enn_logs, enn_seed) = if cfg.needs_enn() {
        let m = main_enn(cfg, &train, out, resume, progress)?;
        timing.enn_secs = m.secs;
        (Some(m.enn), m.logs, m.seed)
    } else {
        (None, Vec::new(), None)
    };

    // 2. The arms.
    let tc = cfg.train_config(train.dim);
    let work = cfg.work();
    let t = Instant::now();
    progress.start("arms", (work.len() * tc.epochs) as u64);
    let results = run_all(&work, &tc, cfg.jobs, &train, &test, enn.as_ref(), progress)?;
    progress.finish();
    timing.arms_secs = t.elapsed().as_secs_f64();

    // 3. Explanations and the prediction study.
    let studies = enn_studies(
        cfg,
        enn.as_ref(),
        &results,
        (&train, &test),
        progress,
        &mut timing,
    )?;
    timing.total_secs = started.elapsed().as_secs_f64();
    Ok(Outcome {
        config: cfg.clone(),
        data_name: data_name(&data_dir),
        data_dir,
        train_len: train.len(),
        test_len: test.len(),
        input_dim: train.dim,
        results,
        enn_logs,
        enn_seed,
        coverage: studies.coverage,
        explained: studies.explained,
        prediction: studies.prediction,
        timing,
    })
}
