//! Checkpoints of ENN training on disk, and [`train_enn_resumable`], which writes them and
//! resumes from them: a killed run continues where it left off and ends with the result an
//! uninterrupted run would have had (bit-identical ENN and logs).
//!
//! ## What a checkpoint holds
//!
//! A [`TrainState`] (see [`trainer`](super::trainer)): the ENN's parameters, Adam's state,
//! the reward statistics, the value rule's replay buffer, the logs so far, the training
//! generator's key and word positions, and the fingerprints of the training and validation
//! sets; plus the configuration and the ENN's image settings it was written under.
//!
//! ## Format: one safetensors file, `checkpoint.safetensors`
//!
//! ```text
//! tensors   enn.<name>              the ENN parameters (Module::named_params names)
//!           adam.m.<i>, adam.v.<i>  Adam's moments in parameter order (absent before the first step)
//!           replay.images           (n, 1, h, w) the buffer's state images, oldest first
//!           replay.rewards          (n) their rewards (both absent when the buffer is empty)
//! metadata  format                  "grad-instructor enn checkpoint v2"
//!           state                   JSON (serde) of the configuration, the image settings,
//!                                   the RNG position, the counters, the reward statistics,
//!                                   the data fingerprints and the logs
//!           crc32                   checksum of all of the above (io::safetensors)
//! ```
//!
//! Why a single file and not safetensors plus a JSON sidecar: the whole state then changes in
//! one `rename` ([`crate::io::atomic::write_atomic`]: temp file, fsync, rename, fsync of the
//! directory). A crash at any instant leaves either the previous checkpoint or the new one,
//! never parameters from one episode beside logs from another. Floats in the JSON are stored
//! as bit patterns (the f64 reward sums and the logs' f32 fields) because resuming must be
//! bit-exact and because logs contain NaN, which JSON numbers cannot represent; the
//! configuration's floats are finite (it is validated) and round-trip as JSON numbers.
//!
//! Loading treats the file as hostile (it is read back after crashes): the checksum must
//! match (a flipped bit anywhere in the tensors or the metadata is an error), every field
//! must be present, consistent and finite, and the configuration (except `episodes`, which
//! may grow, and `checkpoint_every`) and image settings must equal this run's. Every failure
//! is an [`Error::Format`] naming the file, never a panic and never a silent resume.

use super::config::EnnTrainingConfig;
use super::enn::EvaluationNet;
use super::episode::{bits, EpisodeLog};
use super::rules::reinforce::RewardStats;
use super::trainer::{RngPosition, TrainRng, TrainState, Trainer};
use super::weight_image::WeightImageConfig;
use crate::data::{Dataset, DatasetFingerprint};
use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::io::safetensors::{self, Weights};
use crate::nn::Module;
use crate::tensor::Tensor;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::path::{Path, PathBuf};

/// File name of the checkpoint inside its folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// The `format` metadata value (bumped when the layout changes).
pub const FORMAT: &str = "grad-instructor enn checkpoint v2";

/// Path of the checkpoint file in `dir`.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT_FILE)
}

/// The scalar part of a checkpoint: the `state` metadata entry.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Meta<'a> {
    config: Cow<'a, EnnTrainingConfig>,
    image: Cow<'a, WeightImageConfig>,
    rng: RngPosition,
    next_episode: usize,
    adam_t: u64,
    #[serde(with = "reward_bits")]
    rewards: RewardStats,
    data: [DatasetFingerprint; 2],
    logs: Cow<'a, [EpisodeLog]>,
}

/// `RewardStats` with its sums as f64 bit patterns (bit-exact resume).
mod reward_bits {
    use super::{bits, RewardStats};
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    #[derive(Serialize, Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Bits {
        #[serde(with = "bits::f64")]
        sum: f64,
        #[serde(with = "bits::f64")]
        sq: f64,
        n: usize,
    }

    pub fn serialize<S: Serializer>(r: &RewardStats, s: S) -> Result<S::Ok, S::Error> {
        let RewardStats { sum, sq, n } = *r;
        Bits { sum, sq, n }.serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<RewardStats, D::Error> {
        let Bits { sum, sq, n } = Bits::deserialize(d)?;
        Ok(RewardStats { sum, sq, n })
    }
}

/// The configuration without the fields a resumed run may change (`episodes`,
/// `checkpoint_every`): what must match between a checkpoint and the run resuming it.
fn resumable_part(cfg: &EnnTrainingConfig) -> EnnTrainingConfig {
    EnnTrainingConfig {
        episodes: 0,
        checkpoint_every: 0,
        ..cfg.clone()
    }
}

/// The dotted names and values of the fields where two JSON values differ.
fn differences(path: &str, a: &serde_json::Value, b: &serde_json::Value, out: &mut Vec<String>) {
    use serde_json::Value::Object;
    match (a, b) {
        (Object(x), Object(y)) => {
            for (k, va) in x {
                let name = if path.is_empty() {
                    k.clone()
                } else {
                    format!("{path}.{k}")
                };
                match y.get(k) {
                    Some(vb) => differences(&name, va, vb, out),
                    None => out.push(format!("{name}: {va} vs (absent)")),
                }
            }
        }
        _ if a != b => out.push(format!("{path}: {a} vs {b}")),
        _ => {}
    }
}

/// "another configuration" error naming the fields that differ.
fn config_mismatch(saved: &EnnTrainingConfig, ours: &EnnTrainingConfig) -> String {
    let (a, b) = (
        serde_json::to_value(resumable_part(saved)).unwrap_or_default(),
        serde_json::to_value(resumable_part(ours)).unwrap_or_default(),
    );
    let mut diff = Vec::new();
    differences("", &a, &b, &mut diff);
    format!(
        "written by a run with another configuration (checkpoint vs this run: {})",
        diff.join("; ")
    )
}

/// Serializes `state` (with the configuration and the ENN whose names and image settings it
/// belongs to) to checksummed safetensors bytes.
pub fn to_bytes(
    state: &TrainState,
    cfg: &EnnTrainingConfig,
    enn: &EvaluationNet,
) -> Result<Vec<u8>> {
    let names: Vec<String> = enn.named_params().into_iter().map(|(n, _)| n).collect();
    if names.len() != state.enn_params.len() || state.adam_m.len() != state.adam_v.len() {
        return Err(Error::invalid(
            "checkpoint::to_bytes",
            "ENN parameter or Adam moment count differs from the state's",
        ));
    }
    let mut owned: Vec<(String, &Tensor)> = names
        .iter()
        .zip(&state.enn_params)
        .map(|(n, t)| (format!("enn.{n}"), t))
        .collect();
    for (i, (m, v)) in state.adam_m.iter().zip(&state.adam_v).enumerate() {
        owned.push((format!("adam.m.{i}"), m));
        owned.push((format!("adam.v.{i}"), v));
    }
    let replay = replay_tensors(&state.replay)?;
    if let Some((images, rewards)) = &replay {
        owned.push(("replay.images".into(), images));
        owned.push(("replay.rewards".into(), rewards));
    }
    let tensors: Vec<(&str, &Tensor)> = owned.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let meta = Meta {
        config: Cow::Borrowed(cfg),
        image: Cow::Borrowed(&enn.image),
        rng: state.rng,
        next_episode: state.next_episode,
        adam_t: state.adam_t,
        rewards: state.rewards,
        data: state.data,
        logs: Cow::Borrowed(&state.logs),
    };
    let json = serde_json::to_string(&meta)
        .map_err(|e| Error::invalid("checkpoint::to_bytes", e.to_string()))?;
    safetensors::to_bytes_checked(&tensors, &[("format", FORMAT), ("state", &json)])
}

/// The replay buffer as two tensors, (n, c, h, w) images and (n) rewards (`None` if empty).
fn replay_tensors(replay: &[(Tensor, f32)]) -> Result<Option<(Tensor, Tensor)>> {
    let Some((first, _)) = replay.first() else {
        return Ok(None);
    };
    let mut dims = first.dims().to_vec();
    if dims.len() != 4 || dims[0] != 1 {
        return Err(Error::shape(
            "checkpoint::to_bytes",
            "replay images (1, c, h, w)",
            format!("{dims:?}"),
        ));
    }
    let mut data = Vec::with_capacity(replay.len() * first.numel());
    for (img, _) in replay {
        img.expect_dims("checkpoint::to_bytes", &dims)?;
        data.extend_from_slice(img.data());
    }
    dims[0] = replay.len();
    let rewards: Vec<f32> = replay.iter().map(|(_, r)| *r).collect();
    Ok(Some((
        Tensor::from_vec(data, &dims)?,
        Tensor::from_vec(rewards, &[replay.len()])?,
    )))
}

/// Writes the checkpoint atomically into `dir` (see the module docs for why one file).
pub fn save(
    dir: &Path,
    state: &TrainState,
    cfg: &EnnTrainingConfig,
    enn: &EvaluationNet,
) -> Result<PathBuf> {
    let path = checkpoint_path(dir);
    write_atomic(&path, &to_bytes(state, cfg, enn)?)?;
    Ok(path)
}

/// Reads the checkpoint in `dir` and checks it against the run it should continue (see
/// [`from_bytes`]).
pub fn load(dir: &Path, cfg: &EnnTrainingConfig, enn: &EvaluationNet) -> Result<TrainState> {
    let path = checkpoint_path(dir);
    let len = std::fs::metadata(&path)
        .map_err(|e| Error::io(&path, e))?
        .len();
    if len > safetensors::MAX_FILE_BYTES {
        return Err(Error::format(
            &path,
            None,
            format!(
                "file is {len} bytes, above the {}-byte limit",
                safetensors::MAX_FILE_BYTES
            ),
        ));
    }
    let bytes = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    from_bytes(&bytes, &path, cfg, enn)
}

/// Parses checkpoint bytes (as [`load`] does after reading the file); `path` names the source
/// in errors. Checks the checksum, the format, the configuration (except `episodes` and
/// `checkpoint_every`), the ENN's image settings and parameter shapes, and the consistency
/// and finiteness of every field. Any bytes give `Ok` or a typed error, never a panic (fuzz
/// target `checkpoint`).
pub fn from_bytes(
    bytes: &[u8],
    path: &Path,
    cfg: &EnnTrainingConfig,
    enn: &EvaluationNet,
) -> Result<TrainState> {
    let mut w = safetensors::from_bytes_checked(bytes, path)?;
    let bad = |reason: String| Error::format(path, None, reason);
    let meta_entry = |k: &str| {
        w.meta(k)
            .ok_or_else(|| bad(format!("metadata {k:?} missing")))
    };
    let format = meta_entry("format")?;
    if format != FORMAT {
        return Err(bad(format!("format {format:?}, expected {FORMAT:?}")));
    }
    let meta: Meta<'static> = serde_json::from_str(meta_entry("state")?).map_err(|e| {
        bad(format!(
            "metadata \"state\" is not a valid checkpoint state: {e}"
        ))
    })?;
    check_meta(&meta, cfg, enn).map_err(bad)?;
    let enn_params = take_params(&mut w, enn, "enn.", path)?;
    let (adam_m, adam_v) = if w.tensors.iter().any(|(n, _)| n.starts_with("adam.")) {
        let m = take_params(&mut w, enn, "adam.m.", path)?;
        (m, take_params(&mut w, enn, "adam.v.", path)?)
    } else {
        (Vec::new(), Vec::new())
    };
    if adam_m.is_empty() != (meta.adam_t == 0) {
        return Err(bad(format!(
            "Adam t = {} with {} moment tensors",
            meta.adam_t,
            adam_m.len()
        )));
    }
    let replay = take_replay(&mut w, cfg, path)?;
    if let Some((n, _)) = w.tensors.first() {
        return Err(bad(format!("unexpected tensor {n:?}")));
    }
    Ok(TrainState {
        rng: meta.rng,
        next_episode: meta.next_episode,
        enn_params,
        adam_t: meta.adam_t,
        adam_m,
        adam_v,
        rewards: meta.rewards,
        replay,
        logs: meta.logs.into_owned(),
        data: meta.data,
    })
}

/// The checks on the `state` entry; the error's reason.
fn check_meta(meta: &Meta<'_>, cfg: &EnnTrainingConfig, enn: &EvaluationNet) -> Result<(), String> {
    if resumable_part(&meta.config) != resumable_part(cfg) {
        return Err(config_mismatch(&meta.config, cfg));
    }
    if *meta.image != enn.image {
        return Err(format!(
            "ENN image settings {:?} differ from this run's {:?}",
            meta.image, enn.image
        ));
    }
    let n = meta.next_episode;
    let logs = &meta.logs;
    if logs.len() != n || logs.iter().enumerate().any(|(i, l)| l.episode != i) {
        return Err(format!(
            "{} logs (episodes {:?}) for next_episode {n}",
            logs.len(),
            logs.iter().map(|l| l.episode).collect::<Vec<_>>()
        ));
    }
    let r = meta.rewards;
    if r.n > n || !r.sum.is_finite() || !r.sq.is_finite() {
        return Err(format!(
            "reward statistics n = {}, sum = {}, sum of squares = {} for {n} episodes",
            r.n, r.sum, r.sq
        ));
    }
    if meta.rng.now < meta.rng.start {
        return Err(format!(
            "RNG position {} before its start {}",
            meta.rng.now, meta.rng.start
        ));
    }
    Ok(())
}

/// Removes `<prefix><name>` (ENN names for `enn.`, indices for Adam's moments) for every ENN
/// parameter, with the parameter's shape; each must be finite.
fn take_params(
    w: &mut Weights,
    enn: &EvaluationNet,
    prefix: &str,
    path: &Path,
) -> Result<Vec<Tensor>> {
    let named = enn.named_params();
    let mut out = Vec::with_capacity(named.len());
    for (i, (n, p)) in named.iter().enumerate() {
        let key = if prefix == "enn." {
            format!("{prefix}{n}")
        } else {
            format!("{prefix}{i}")
        };
        let t = w
            .take(&key, p.dims())
            .map_err(|e| Error::format(path, None, e.to_string()))?;
        finite(&t, &key, path)?;
        out.push(t);
    }
    Ok(out)
}

fn finite(t: &Tensor, name: &str, path: &Path) -> Result<()> {
    match t.data().iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(i) => Err(Error::format(
            path,
            None,
            format!(
                "tensor {name:?} holds a non-finite value ({}) at index {i}",
                t.data()[i]
            ),
        )),
    }
}

/// Removes the replay tensors (both or neither) and splits them into pairs.
fn take_replay(
    w: &mut Weights,
    cfg: &EnnTrainingConfig,
    path: &Path,
) -> Result<Vec<(Tensor, f32)>> {
    let bad = |reason: String| Error::format(path, None, reason);
    let has = |name: &str| w.tensors.iter().any(|(n, _)| n == name);
    if !has("replay.images") && !has("replay.rewards") {
        return Ok(Vec::new());
    }
    let images = w
        .get("replay.images")
        .map_err(|e| bad(e.to_string()))?
        .clone();
    let d = images.dims().to_vec();
    if d.len() != 4 || d[0] == 0 {
        return Err(bad(format!(
            "replay.images has shape {d:?}, expected (n, c, h, w)"
        )));
    }
    if d[0] > cfg.value.replay_capacity {
        return Err(bad(format!(
            "{} replay pairs exceed the configured capacity {}",
            d[0], cfg.value.replay_capacity
        )));
    }
    let rewards = w
        .take("replay.rewards", &[d[0]])
        .map_err(|e| bad(e.to_string()))?;
    w.tensors.retain(|(n, _)| n != "replay.images");
    finite(&images, "replay.images", path)?;
    finite(&rewards, "replay.rewards", path)?;
    let one = [1, d[1], d[2], d[3]];
    let per = d[1] * d[2] * d[3];
    let mut replay = Vec::with_capacity(d[0]);
    for (i, &r) in rewards.data().iter().enumerate() {
        let img = Tensor::from_vec(images.data()[i * per..(i + 1) * per].to_vec(), &one)?;
        replay.push((img, r));
    }
    Ok(replay)
}

/// Where [`train_enn_resumable`] keeps its checkpoints (both `None`: no checkpoints).
#[derive(Clone, Copy, Debug, Default)]
pub struct Checkpoints<'a> {
    /// Write the state into this folder after every `cfg.checkpoint_every` episodes and after
    /// the last, each write atomic.
    pub save_to: Option<&'a Path>,
    /// Continue from the checkpoint in this folder.
    pub resume_from: Option<&'a Path>,
}

/// [`train_enn`](super::trainer::train_enn) with checkpoints and resumption; with neither it
/// is exactly `train_enn`.
///
/// * `ckpt.save_to`: a checkpoint after every `cfg.checkpoint_every` episodes and after the
///   last. A run stopped by an error writes nothing more, so the last good checkpoint stays.
/// * `ckpt.resume_from`: continue from the checkpoint there. `rng` must be in the state the
///   interrupted run's RNG had when *its* training started (same seed, same draws before,
///   e.g. the ENN's initialization), and `train`/`val` must be the same data; the checkpoint
///   must come from the same configuration (except `episodes`, which may grow, and
///   `checkpoint_every`). `enn`'s parameters are overwritten with the saved ones;
///   `on_episode` is called for the new episodes only; the returned logs include the restored
///   ones. The result is bit-identical to an uninterrupted run.
pub fn train_enn_resumable(
    enn: &mut EvaluationNet,
    cfg: &EnnTrainingConfig,
    train: &Dataset,
    val: &Dataset,
    rng: &mut TrainRng,
    ckpt: Checkpoints<'_>,
    on_episode: impl FnMut(&EpisodeLog),
) -> Result<Vec<EpisodeLog>> {
    cfg.validate()?;
    let state = match ckpt.resume_from {
        Some(dir) => Some((load(dir, cfg, enn)?, checkpoint_path(dir))),
        None => None,
    };
    let mut trainer = Trainer::new(enn, cfg, train, val, rng)?;
    if let Some((state, path)) = state {
        trainer.resume(state, &path)?;
    }
    match ckpt.save_to {
        Some(dir) => {
            let mut save = |s: &TrainState, enn: &EvaluationNet| save(dir, s, cfg, enn).map(drop);
            trainer.run(Some(&mut save), on_episode)
        }
        None => trainer.run(None, on_episode),
    }
}
