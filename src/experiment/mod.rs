//! The experiment: the layer above [`instructor`](crate::instructor) and
//! [`explain`](mod@crate::explain) that runs studies.
//!
//! * [`config`]: [`ExperimentConfig`], every setting of a run, with named [`Preset`]s applied
//!   in one place; serde-(de)serializable, recorded in `summary.json`.
//! * [`validate`]: every field's range, checked by [`run()`] before any work.
//! * [`budget`]: the configuration's estimated memory against the memory available, checked
//!   by [`run()`] before any training.
//! * [`arm`]: the arms (`bp`, `l1`, `he`, `gi`) and one (arm, seed) training run, [`run_arm`].
//! * [`divergence`]: the rule that flags a diverged run, a result reported as such.
//! * [`runner`]: the parallel runner over (arm, seed) work lists, [`run_all`].
//! * [`enn`]: training, saving and loading the ENN.
//! * [`summary`]: per-arm summaries and Welch's tests from the runs' numbers.
//! * [`explain`](mod@explain): the Grad-CAM protocol and the lottery test.
//! * [`predict`]: the best-ENN study with its [`Statistic`]s.
//! * [`run`](mod@run): one whole comparison from a config, returning an [`Outcome`].
//! * [`output`]: the files a run writes (CSV, JSON) and the output-folder check;
//!   [`sections`]: the report's sections.
//! * [`merge`](mod@merge): combining the output folders of shards, refusing what cannot be merged.
//! * [`study`]: the pre-registered reproduction study of issue 13 (`docs/study.md`).
//! * [`progress`]: the [`Progress`] trait through which the library reports progress (it
//!   never prints; a front end renders it).
//!
//! The library knows no command-line flag names: a front end maps its flags onto the config's
//! fields.

pub mod arm;
pub mod budget;
pub mod config;
pub mod divergence;
pub mod enn;
pub mod explain;
pub mod merge;
pub mod output;
pub mod paired;
pub mod predict;
pub mod progress;
pub mod run;
pub mod runner;
pub mod sections;
pub mod study;
pub mod summary;
pub mod validate;

pub use arm::{initial_mlp, run_arm, Arm, GradNormRecord, RunRecord, RunResult, TrainConfig};
pub use config::{ExperimentConfig, Preset};
pub use divergence::{Cause, Divergence};
pub use enn::{enn_split, load_enn, save_enn, train_one_enn, train_one_enn_checkpointed};
pub use explain::{explain, Explained};
pub use paired::{paired_comparisons, paired_table, PairedRow};
pub use predict::{predict_best_enn, EnnCandidate, Prediction, Statistic, StatisticTest};
pub use progress::{Progress, Silent};
pub use run::{run, Outcome, RunError, Timing};
pub use runner::run_all;
pub use summary::{summarize, ArmSummary};
pub use validate::{ConfigError, ConfigWarning};
