//! The memory budget of a configuration, checked by [`run()`](super::run()) before any
//! training: a configuration whose estimated peak exceeds the memory available is a
//! [`ConfigError`] naming the estimate, the part that dominates it and the memory available,
//! instead of an allocation failure (an abort) an hour into the run.
//!
//! The estimate ([`estimate`]) counts the buffers whose size the configuration sets, in f32s:
//!
//! * the data: the training and test images and labels, plus the ENN's train/validation
//!   split (a second copy of the training set) when an ENN trains;
//! * per parallel run (`min(jobs, runs)` at once): the MLP's parameters P = Σ (in·out + out),
//!   its gradients and one working copy (3P), the gathered batch (batch·inputs) and the
//!   activations of forward and backward (4·batch·Σ widths: pre-activation, activation and
//!   their gradients), plus the 1000-row evaluation chunks;
//! * kept for the report: every run's trained MLP (runs·P) and its result record;
//! * ENN training: one episode's MLP as above plus one MLP copy per learning-rate candidate,
//!   the replay buffer (capacity × image pixels, the image being W1 resized by 0.15 per side),
//!   the ENN's activations for one update batch, and one log record per episode.
//!
//! The phases run one after the other (ENN, then the arms), so the peak is the data plus the
//! larger phase. The figure is an estimate of what the configuration asks for, not of the
//! process's resident size (allocator slack, thread stacks and the code are not in it); its
//! purpose is to refuse configurations that cannot fit at all — the default and `--quick`
//! configurations need well under 1 GB.
//!
//! The memory available is `MemAvailable` of `/proc/meminfo`, or the
//! [`ExperimentConfig::max_memory`] override; where neither is known the check is skipped.

use super::config::ExperimentConfig;
use super::validate::ConfigError;
use super::{GradNormRecord, RunResult};
use crate::instructor::{EnnTrainingConfig, EpisodeLog};

/// The shape of the data a run loads: what the estimate needs to know of it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataShape {
    /// Training images.
    pub train: usize,
    /// Test images.
    pub test: usize,
    /// Values per image (the MLP's input width).
    pub dim: usize,
}

/// One named part of an [`Estimate`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    /// What it is, e.g. "MLP parameters, gradients and activations of 2 parallel runs".
    pub what: String,
    /// The config field that sets its size (the one to change), e.g. `mlp.hidden`.
    pub field: &'static str,
    /// Bytes.
    pub bytes: u128,
}

/// The estimated peak memory of a configuration, by part.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Estimate {
    /// The parts counted at the peak (the data and the larger phase).
    pub parts: Vec<Part>,
    /// One MLP training alone (counted within the parts): when it alone exceeds the memory,
    /// its widths or batch are what to change, whatever part dominates.
    pub one_run: Part,
}

impl Estimate {
    /// Total bytes.
    pub fn total(&self) -> u128 {
        self.parts.iter().map(|p| p.bytes).sum()
    }

    /// The largest part.
    pub fn dominant(&self) -> &Part {
        self.parts
            .iter()
            .max_by_key(|p| p.bytes)
            .expect("an estimate has parts")
    }
}

const F32: u128 = 4;

/// Parameters of an MLP with layer widths `sizes`.
fn mlp_params(sizes: &[usize]) -> u128 {
    sizes
        .windows(2)
        .map(|w| w[0] as u128 * w[1] as u128 + w[1] as u128)
        .sum()
}

/// Bytes of one MLP being trained with mini-batches of `batch`: parameters, gradients and a
/// working copy, the gathered batch, the activations and the evaluation chunks.
fn training_bytes(sizes: &[usize], batch: usize) -> u128 {
    let widths: u128 = sizes.iter().map(|&w| w as u128).sum();
    let batch = batch as u128;
    let input = sizes[0] as u128;
    F32 * (3 * mlp_params(sizes) + batch * input + 4 * batch * widths + 2 * 1000 * widths)
}

/// Side of W1's image: 0.15 of `n`, at least 2 (the ENN's global pool needs 2×2).
fn image_side(n: usize) -> u128 {
    ((n as f64 * 0.15).floor() as u128).max(2)
}

/// The data set, and the ENN's copy of the training set when an ENN trains.
fn data_part(cfg: &ExperimentConfig, shape: DataShape) -> Part {
    let dim = shape.dim as u128;
    let mut data = (shape.train as u128 + shape.test as u128) * (dim + 1) * F32;
    let trains_enn = cfg.trains_enn();
    if trains_enn {
        data += shape.train as u128 * (dim + 1) * F32;
    }
    Part {
        what: format!(
            "the data ({} + {} images of {} values{})",
            shape.train,
            shape.test,
            shape.dim,
            if trains_enn {
                ", and the ENN's split"
            } else {
                ""
            }
        ),
        field: "data.dir",
        bytes: data,
    }
}

/// The arms: min(jobs, runs) runs at once, every run's MLP kept for the report. Returns the
/// parts and one MLP training alone.
fn arm_parts(cfg: &ExperimentConfig, shape: DataShape, sizes: &[usize]) -> (Vec<Part>, Part) {
    let runs =
        (cfg.arms.len() as u128).saturating_mul(cfg.seeds as u128) / cfg.shard.count.max(1) as u128;
    let parallel = (cfg.jobs as u128).min(runs).max(1);
    let per_run = training_bytes(sizes, cfg.mlp.batch);
    let one_run = Part {
        what: format!("one MLP training (batch of {})", cfg.mlp.batch),
        field: if per_run - F32 * 3 * mlp_params(sizes) > F32 * 3 * mlp_params(sizes) {
            "mlp.batch"
        } else {
            "mlp.hidden"
        },
        bytes: per_run,
    };
    let steps_per_epoch = (shape.train / cfg.mlp.batch.max(1)).max(1) as u128;
    let norms_per_run = match cfg.mlp.log_every {
        0 => 0,
        k => steps_per_epoch * cfg.mlp.epochs as u128 / k as u128,
    };
    let kept = F32 * mlp_params(sizes)
        + std::mem::size_of::<RunResult>() as u128
        + norms_per_run * std::mem::size_of::<GradNormRecord>() as u128;
    let arms = vec![
        Part {
            what: format!(
                "{parallel} parallel MLP trainings (parameters, gradients, batch of {} and activations)",
                cfg.mlp.batch
            ),
            field: if parallel > 1 { "jobs" } else { one_run.field },
            bytes: per_run.saturating_mul(parallel),
        },
        Part {
            what: format!("the {runs} trained MLPs and results kept for the report"),
            field: "seeds",
            bytes: kept.saturating_mul(runs),
        },
    ];
    (arms, one_run)
}

/// ENN training (none when no ENN trains): the episode's MLP, its learning-rate candidates,
/// replay buffer, ENN activations and per-episode logs.
fn enn_parts(cfg: &ExperimentConfig, shape: DataShape, sizes: &[usize]) -> Vec<Part> {
    if !cfg.trains_enn() {
        return Vec::new();
    }
    let r: EnnTrainingConfig = cfg.reinforce_config();
    let pixels = image_side(sizes.get(1).copied().unwrap_or(1)) * image_side(shape.dim);
    let candidates = r.lr_multipliers.len() as u128;
    let states = (cfg.enn.steps_per_episode / r.value.record_every.max(1) + 1) as u128;
    let enn_batch = states + r.value.replay_batch as u128;
    vec![
        Part {
            what: format!(
                "the ENN episodes' MLP (batch of {}) and {candidates} candidate copies",
                cfg.mlp.batch
            ),
            field: "mlp.batch",
            bytes: training_bytes(sizes, cfg.mlp.batch) + candidates * F32 * mlp_params(sizes),
        },
        Part {
            what: format!(
                "the ENN's replay buffer ({} images of {pixels} pixels) and activations",
                r.value.replay_capacity
            ),
            field: "mlp.hidden",
            // conv1 16 and conv2 32 channels, output and gradient: ~ 2·(16 + 32 + 16/4)·pixels.
            bytes: F32 * pixels * (r.value.replay_capacity as u128 + 2 * 52 * enn_batch),
        },
        Part {
            what: format!("{} ENN episode logs", cfg.enn.episodes),
            field: "enn.episodes",
            bytes: cfg.enn.episodes as u128 * std::mem::size_of::<EpisodeLog>() as u128,
        },
    ]
}

/// The estimated peak memory of `cfg` on data of `shape` (saturating: a configuration of
/// 10^30 bytes is estimated as such, never wrapped): the data, and the larger of the arms'
/// and the ENN training's parts (the two phases do not overlap).
pub fn estimate(cfg: &ExperimentConfig, shape: DataShape) -> Estimate {
    let sizes = cfg.sizes(shape.dim);
    let (arms, one_run) = arm_parts(cfg, shape, &sizes);
    let enn = enn_parts(cfg, shape, &sizes);
    let sum = |ps: &[Part]| ps.iter().map(|p| p.bytes).sum::<u128>();
    let mut parts = vec![data_part(cfg, shape)];
    parts.extend(if sum(&enn) > sum(&arms) { enn } else { arms });
    Estimate { parts, one_run }
}

/// Bytes of memory available: `MemAvailable` of `/proc/meminfo` (`None` where unreadable).
pub fn mem_available() -> Option<u128> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    parse_meminfo(&text)
}

/// `MemAvailable` of a `/proc/meminfo` text, in bytes.
pub fn parse_meminfo(text: &str) -> Option<u128> {
    let line = text.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let mut it = line["MemAvailable:".len()..].split_whitespace();
    let n: u128 = it.next()?.parse().ok()?;
    match it.next() {
        Some("kB") => Some(n * 1024),
        None => Some(n),
        _ => None,
    }
}

/// Parses a byte count with an optional binary suffix: `512M`, `2G`, `1.5G`, `4096`, `64K`,
/// `1T` (K = 1024).
pub fn parse_bytes(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let (num, mul) = match t.chars().last().map(|c| c.to_ascii_uppercase()) {
        Some('K') => (&t[..t.len() - 1], 1u64 << 10),
        Some('M') => (&t[..t.len() - 1], 1 << 20),
        Some('G') => (&t[..t.len() - 1], 1 << 30),
        Some('T') => (&t[..t.len() - 1], 1 << 40),
        _ => (t, 1),
    };
    let v: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("takes a size such as 512M or 2G; got {s:?}"))?;
    let bytes = v * mul as f64;
    if !(bytes.is_finite() && bytes >= 1.0 && bytes < u64::MAX as f64) {
        return Err(format!(
            "takes a positive size such as 512M or 2G; got {s:?}"
        ));
    }
    Ok(bytes as u64)
}

/// `bytes` as a short human figure (`1.5 GB`, binary units).
pub fn human(bytes: u128) -> String {
    let units = ["B", "KB", "MB", "GB", "TB", "PB", "EB"];
    let mut v = bytes as f64;
    let mut u = 0;
    while v >= 1024.0 && u + 1 < units.len() {
        v /= 1024.0;
        u += 1;
    }
    if u == 0 {
        format!("{bytes} B")
    } else {
        format!("{v:.1} {}", units[u])
    }
}

/// Refuses `cfg` on data of `shape` when its [`estimate`] exceeds `available` bytes
/// (`None`: unknown, accepted). The error names the dominant part's field, the estimate,
/// what dominates it and the memory available.
pub fn check(
    cfg: &ExperimentConfig,
    shape: DataShape,
    available: Option<u128>,
) -> Result<Estimate, ConfigError> {
    let est = estimate(cfg, shape);
    let Some(avail) = available else {
        return Ok(est);
    };
    let total = est.total();
    if total <= avail {
        return Ok(est);
    }
    let d = est.dominant();
    // An explicit limit is the setting the user chose; otherwise name what to shrink.
    let field = if cfg.max_memory.is_some() {
        "max_memory"
    } else if est.one_run.bytes > avail {
        est.one_run.field
    } else {
        d.field
    };
    let value = field_value(cfg, field);
    Err(ConfigError {
        field,
        value,
        reason: format!(
            "the run needs an estimated {} ({} of it {}), more than the {} of memory available ({})",
            human(total),
            human(d.bytes),
            d.what,
            human(avail),
            if cfg.max_memory.is_some() {
                "the max_memory setting"
            } else {
                "MemAvailable in /proc/meminfo; the max_memory setting overrides it"
            }
        ),
    })
}

/// The value of the config field `field`, as the error shows it.
fn field_value(cfg: &ExperimentConfig, field: &str) -> String {
    match field {
        "mlp.hidden" => cfg
            .mlp
            .hidden
            .iter()
            .map(|w| w.to_string())
            .collect::<Vec<_>>()
            .join(","),
        "mlp.batch" => cfg.mlp.batch.to_string(),
        "jobs" => cfg.jobs.to_string(),
        "seeds" => cfg.seeds.to_string(),
        "enn.episodes" => cfg.enn.episodes.to_string(),
        "data.dir" => cfg
            .data
            .dir
            .as_ref()
            .map_or("(default)".into(), |d| d.display().to_string()),
        "max_memory" => cfg.max_memory.unwrap_or(0).to_string(),
        _ => String::new(),
    }
}

/// The memory available to `cfg`: its `max_memory` override, else `MemAvailable`.
pub fn available(cfg: &ExperimentConfig) -> Option<u128> {
    cfg.max_memory.map(u128::from).or_else(mem_available)
}
