//! [`ExperimentConfig::validate`]: every field's range, checked before any work.
//!
//! A field out of range is a [`ConfigError`] naming the field by its path in the config
//! (`mlp.lr`, `enn.decide_every`) with the offending value and the reason; the library knows
//! no flag names, so a front end renders the path as its own flag (the `mnist_enn` example
//! maps `mlp.lr` to `--lr`). A legal but surprising value is a [`ConfigWarning`], reported
//! through [`Progress::warn`](super::Progress::warn) and accepted.
//!
//! The caps (work list, widths, batch, episodes) are far above anything this machine can run
//! and exist so that a typo (`--seeds 1000000000`) is an error naming the field instead of an
//! allocation failure or a loop over 2^64 seeds.

use super::config::{ExperimentConfig, Shard};
use std::fmt;

/// Most (arm, seed) runs one configuration may list (before sharding).
pub const MAX_RUNS: u64 = 1_000_000;
/// Widest hidden layer accepted.
pub const MAX_WIDTH: usize = 65_536;
/// Largest mini-batch accepted (the ENN episodes allocate batch × 784 floats per step).
pub const MAX_BATCH: usize = 65_536;
/// Most epochs, ENN episodes or steps per episode accepted.
pub const MAX_COUNT: usize = 1_000_000;
/// Most worker threads accepted.
pub const MAX_JOBS: usize = 1024;

/// A configuration field out of range.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The field's path in [`ExperimentConfig`], e.g. `mlp.lr`.
    pub field: &'static str,
    /// The value as given.
    pub value: String,
    /// What the field accepts.
    pub reason: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.field, self.value, self.reason)
    }
}

impl std::error::Error for ConfigError {}

/// A legal but surprising setting, accepted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The field's path in [`ExperimentConfig`].
    pub field: &'static str,
    /// The value as given.
    pub value: String,
    /// What it does.
    pub message: String,
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} = {}: {}", self.field, self.value, self.message)
    }
}

fn err(field: &'static str, value: impl fmt::Display, reason: impl Into<String>) -> ConfigError {
    ConfigError {
        field,
        value: value.to_string(),
        reason: reason.into(),
    }
}

/// `1 <= v <= max`.
fn count(field: &'static str, v: usize, max: usize) -> Result<(), ConfigError> {
    if v == 0 {
        Err(err(field, v, "must be at least 1"))
    } else if v > max {
        Err(err(field, v, format!("must be at most {max}")))
    } else {
        Ok(())
    }
}

/// A finite f32 (`1e39` parses to +inf in f32: say so).
fn finite(field: &'static str, v: f32) -> Result<(), ConfigError> {
    if v.is_finite() {
        Ok(())
    } else if v.is_nan() {
        Err(err(field, v, "must be a number"))
    } else {
        Err(err(
            field,
            v,
            "must be finite (values beyond ±3.4e38 overflow f32)",
        ))
    }
}

fn positive(field: &'static str, v: f32) -> Result<(), ConfigError> {
    finite(field, v)?;
    if v > 0.0 {
        Ok(())
    } else {
        Err(err(field, v, "must be positive"))
    }
}

impl ExperimentConfig {
    /// Checks every field's range; `Ok` carries the warnings for legal but surprising values.
    /// [`run`](super::run()) calls it before any work.
    pub fn validate(&self) -> Result<Vec<ConfigWarning>, ConfigError> {
        let mut warnings = Vec::new();
        self.validate_mlp(&mut warnings)?;
        self.validate_work()?;
        if self.trains_enn() {
            self.validate_enn()?;
        }
        if self.runs_enn_outputs() {
            self.validate_outputs()?;
        }
        count("jobs", self.jobs, MAX_JOBS)?;
        for (field, limit) in [
            ("data.train_limit", self.data.train_limit),
            ("data.test_limit", self.data.test_limit),
        ] {
            if limit == Some(0) {
                return Err(err(field, 0, "must be at least 1"));
            }
        }
        Ok(warnings)
    }

    fn validate_mlp(&self, warnings: &mut Vec<ConfigWarning>) -> Result<(), ConfigError> {
        let m = &self.mlp;
        let hidden = m
            .hidden
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(",");
        if m.hidden.is_empty() {
            return Err(err("mlp.hidden", "\"\"", "needs at least one hidden width"));
        }
        if let Some(w) = m.hidden.iter().find(|&&w| w == 0 || w > MAX_WIDTH) {
            return Err(err(
                "mlp.hidden",
                hidden,
                format!("widths must be between 1 and {MAX_WIDTH}, got {w}"),
            ));
        }
        count("mlp.epochs", m.epochs, MAX_COUNT)?;
        positive("mlp.lr", m.lr)?;
        count("mlp.batch", m.batch, MAX_BATCH)?;
        finite("mlp.l1", m.l1)?;
        if m.l1 < 0.0 {
            return Err(err(
                "mlp.l1",
                m.l1,
                "must be >= 0 (a negative L1 rewards large weights)",
            ));
        }
        finite("mlp.le", m.le)?;
        if m.le < 0.0 {
            warnings.push(ConfigWarning {
                field: "mlp.le",
                value: m.le.to_string(),
                message: "negative: universal backprop will descend on the ENN's score E instead of ascending it".into(),
            });
        }
        Ok(())
    }

    fn validate_work(&self) -> Result<(), ConfigError> {
        if self.arms.is_empty() {
            return Err(err("arms", "\"\"", "needs at least one of bp, l1, he, gi"));
        }
        for (i, a) in self.arms.iter().enumerate() {
            if self.arms[..i].contains(a) {
                let list: Vec<&str> = self.arms.iter().map(|a| a.name()).collect();
                return Err(err(
                    "arms",
                    list.join(","),
                    format!("{} is listed twice (each arm runs once per seed)", a.name()),
                ));
            }
        }
        if self.seeds == 0 {
            return Err(err("seeds", 0, "must be at least 1"));
        }
        let runs = (self.arms.len() as u64).checked_mul(self.seeds);
        if runs.is_none_or(|r| r > MAX_RUNS) {
            return Err(err(
                "seeds",
                self.seeds,
                format!(
                    "{} arms × {} seeds exceeds {MAX_RUNS} runs",
                    self.arms.len(),
                    self.seeds
                ),
            ));
        }
        if self.seed_start.checked_add(self.seeds - 1).is_none() {
            return Err(err(
                "seed_start",
                self.seed_start,
                format!("the last seed (first + {} − 1) overflows u64", self.seeds),
            ));
        }
        let Shard { index, count } = self.shard;
        if count == 0 || index >= count {
            return Err(err("shard", format!("{index}/{count}"), "needs 0 <= I < N"));
        }
        let total = runs.unwrap_or(0);
        if index >= total {
            return Err(err(
                "shard",
                format!("{index}/{count}"),
                format!("selects none of the {total} (arm, seed) runs"),
            ));
        }
        Ok(())
    }

    fn validate_enn(&self) -> Result<(), ConfigError> {
        let e = &self.enn;
        count("enn.episodes", e.episodes, MAX_COUNT)?;
        count("enn.steps_per_episode", e.steps_per_episode, MAX_COUNT)?;
        count("enn.decide_every", e.decide_every, MAX_COUNT)?;
        positive("enn.tau", e.tau)?;
        count("enn.checkpoint_every", e.checkpoint_every, MAX_COUNT)?;
        if !(e.inert_threshold.is_finite() && e.inert_threshold >= 0.0) {
            return Err(err(
                "enn.inert_threshold",
                e.inert_threshold,
                "must be a finite number >= 0",
            ));
        }
        count("enn.validation_images", e.validation_images, usize::MAX)
    }

    fn validate_outputs(&self) -> Result<(), ConfigError> {
        let x = &self.explain;
        if x.enabled {
            if let Some(p) = x
                .lottery_percents
                .iter()
                .find(|p| !(p.is_finite() && **p > 0.0 && **p <= 100.0))
            {
                return Err(err("explain.lottery_percents", p, "must be in (0, 100]"));
            }
            count(
                "explain.lottery_random_masks",
                x.lottery_random_masks,
                MAX_COUNT,
            )?;
            // Each MLP costs (2 + 4·random masks) fine-tunings per percentage.
            count(
                "explain.lottery_mlps",
                usize::try_from(x.lottery_mlps).unwrap_or(usize::MAX),
                10_000,
            )?;
        }
        let p = &self.predict;
        if p.enns == 0 {
            return Ok(());
        }
        if p.enns == 1 {
            return Err(err(
                "predict.enns",
                1,
                "a correlation needs at least 2 ENNs (0 skips the study)",
            ));
        }
        count("predict.enns", p.enns, 1000)?;
        if let Some(n) = p.episodes {
            count("predict.episodes", n, MAX_COUNT)?;
        }
        if p.seeds == 0 {
            return Err(err("predict.seeds", 0, "must be at least 1"));
        }
        if p.seeds > MAX_RUNS {
            return Err(err(
                "predict.seeds",
                p.seeds,
                format!("must be at most {MAX_RUNS}"),
            ));
        }
        if p.held_out_scales.is_empty() || p.held_out_lengths.is_empty() {
            return Err(err(
                "predict.held_out_scales",
                "[]",
                "needs at least one state",
            ));
        }
        Ok(())
    }

    /// Whether the run trains the main ENN (it needs one and does not load it).
    pub fn trains_enn(&self) -> bool {
        self.needs_enn() && self.enn.load.is_none()
    }
}
