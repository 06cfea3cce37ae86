//! Checkpoints of ENN training, so that a killed run resumes where it left off and ends with
//! the result an uninterrupted run would have had (bit-identical ENN and logs).
//!
//! ## What a checkpoint holds
//!
//! Everything [`train_enn_resumable`](super::reinforce::train_enn_resumable) carries from one
//! episode to the next: the ENN's parameters, Adam's state (m, v, t), the running reward
//! statistics behind the baseline (Σ R, Σ R², n), the value rule's replay buffer, the index of
//! the next episode and the logs so far. The RNG: rand 0.8's `StdRng` cannot be serialized,
//! so the checkpoint records how many 32-bit words training has drawn from it (`rng_words`);
//! resuming re-creates the caller's RNG in its start state (same seed, same draws before
//! training) and skips that many words. `StdRng` (ChaCha12) hands out one stream of 32-bit
//! words — `next_u64` is two consecutive words, also across block boundaries — so the skipped
//! RNG is in exactly the state the interrupted run had. This keeps `train_enn`'s random
//! stream (and every result measured with it) unchanged.
//!
//! ## Format: one safetensors file, `checkpoint.safetensors`
//!
//! ```text
//! tensors   enn.<name>            the 8 ENN parameters (EvaluationNet::named_params names)
//!           adam.m.<i>, adam.v.<i>  Adam's moments, i = 0..8 (absent before the first step)
//!           replay.images         (n, 1, h, w) the buffer's state images, oldest first
//!           replay.rewards        (n) their rewards (both absent when the buffer is empty)
//! metadata  format                "grad-instructor enn checkpoint v1"
//!           rng_words, next_episode, adam_t, n_rewards  decimal integers
//!           reward_sum, reward_sq                      f64 bit patterns (decimal u64)
//!           config                the training configuration (Debug, without `episodes`
//!                                 and `checkpoint_every`, which may change on resume)
//!           image                 the ENN's weight-image configuration (Debug)
//!           logs                  JSON array of EpisodeLog; every f32 as its u32 bit pattern
//! ```
//!
//! Why a single file and not safetensors plus a JSON sidecar: the whole state then changes in
//! one `rename` ([`crate::io::atomic::write_atomic`]: temp file, fsync, rename,
//! fsync of the directory). A crash at any instant leaves either the previous checkpoint or
//! the new one, never parameters from one episode beside logs from another, with no ordering
//! protocol or cross-file consistency check to get wrong. Safetensors' string metadata is
//! enough for the scalars and the JSON logs. Floats are stored as bit patterns (tensors are raw
//! little-endian f32; the f64 sums and the logs' f32 fields as integers) because resuming must
//! be bit-exact, and because logs contain NaN (`mean_score` of an episode without universal
//! steps), which JSON numbers cannot represent.
//!
//! Loading treats the file as hostile (it is read back after crashes): every missing or
//! inconsistent field is an [`Error::Format`] naming the file, never a panic.

use super::enn::EvaluationNet;
use super::reinforce::{EpisodeLog, ReinforceConfig};
use super::value::ReplayBuffer;
use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::io::safetensors;
use crate::nn::Adam;
use crate::tensor::Tensor;
use serde_json::{json, Value};
use std::path::{Path, PathBuf};

/// File name of the checkpoint inside its folder.
pub const CHECKPOINT_FILE: &str = "checkpoint.safetensors";

/// The `format` metadata value (bumped when the layout changes).
pub const FORMAT: &str = "grad-instructor enn checkpoint v1";

/// The state of ENN training between two episodes.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// 32-bit words drawn from the training RNG so far.
    pub rng_words: u64,
    /// Index of the next episode to run (= number of finished episodes).
    pub next_episode: usize,
    /// ENN parameters in [`EvaluationNet::params`] order.
    pub enn_params: Vec<Tensor>,
    /// Adam's step count.
    pub adam_t: u64,
    /// Adam's first moments (empty before the first step).
    pub adam_m: Vec<Tensor>,
    /// Adam's second moments (empty before the first step).
    pub adam_v: Vec<Tensor>,
    /// Σ R over finished episodes.
    pub reward_sum: f64,
    /// Σ R² over finished episodes.
    pub reward_sq: f64,
    /// Number of finished episodes that entered the reward statistics.
    pub n_rewards: usize,
    /// The replay buffer's (image, reward) pairs, oldest first.
    pub replay: Vec<(Tensor, f32)>,
    /// Logs of the finished episodes.
    pub logs: Vec<EpisodeLog>,
}

impl TrainState {
    /// Copies the parameters into `enn` and rebuilds Adam (η from `cfg`) and the buffer.
    pub(crate) fn restore(
        &self,
        enn: &mut EvaluationNet,
        cfg: &ReinforceConfig,
    ) -> Result<(Adam, ReplayBuffer)> {
        let params = enn.params_mut();
        if params.len() != self.enn_params.len() {
            return Err(Error::invalid(
                "TrainState::restore",
                format!(
                    "{} ENN tensors for {} parameters",
                    self.enn_params.len(),
                    params.len()
                ),
            ));
        }
        for (p, saved) in params.into_iter().zip(&self.enn_params) {
            saved.expect_dims("TrainState::restore", p.dims())?;
            p.data_mut().copy_from_slice(saved.data());
        }
        let mut adam = Adam::new(cfg.enn_lr);
        adam.t = self.adam_t;
        adam.m = self.adam_m.clone();
        adam.v = self.adam_v.clone();
        let mut buffer = ReplayBuffer::new(cfg.value.replay_capacity);
        for (img, r) in &self.replay {
            buffer.push(img.clone(), *r);
        }
        Ok((adam, buffer))
    }
}

/// The configuration as recorded in (and checked against) a checkpoint: everything except
/// the fields a resumed run may change (`episodes`, `checkpoint_every`).
pub fn config_fingerprint(cfg: &ReinforceConfig) -> String {
    let c = ReinforceConfig {
        episodes: 0,
        checkpoint_every: 0,
        ..cfg.clone()
    };
    format!("{c:?}")
}

/// Path of the checkpoint file in `dir`.
pub fn checkpoint_path(dir: &Path) -> PathBuf {
    dir.join(CHECKPOINT_FILE)
}

fn f32_bits(x: f32) -> Value {
    json!(x.to_bits())
}

fn log_to_json(l: &EpisodeLog) -> Value {
    json!({
        "episode": l.episode,
        "seed": l.seed,
        "init_scale": f32_bits(l.init_scale),
        "reward": f32_bits(l.reward),
        "baseline": f32_bits(l.baseline),
        "mean_score": f32_bits(l.mean_score),
        "start_score": f32_bits(l.start_score),
        "final_score": f32_bits(l.final_score),
        "chosen": l.chosen,
        "chosen_multipliers": l.chosen_multipliers.iter().map(|m| m.to_bits()).collect::<Vec<_>>(),
        "p_largest": f32_bits(l.p_largest),
        "enn_loss": f32_bits(l.enn_loss),
        "mlp_loss": f32_bits(l.mlp_loss),
    })
}

fn log_from_json(v: &Value, bad: &dyn Fn(String) -> Error) -> Result<EpisodeLog> {
    let u64_field = |k: &str| {
        v.get(k).and_then(Value::as_u64).ok_or_else(|| {
            bad(format!(
                "log field {k:?} missing or not an unsigned integer"
            ))
        })
    };
    let f32_field = |k: &str| -> Result<f32> {
        let bits = u64_field(k)?;
        u32::try_from(bits)
            .map(f32::from_bits)
            .map_err(|_| bad(format!("log field {k:?}: {bits} is not a 32-bit pattern")))
    };
    let list = |k: &str| -> Result<Vec<u64>> {
        v.get(k)
            .and_then(Value::as_array)
            .ok_or_else(|| bad(format!("log field {k:?} missing or not an array")))?
            .iter()
            .map(|x| {
                x.as_u64()
                    .ok_or_else(|| bad(format!("log field {k:?}: non-integer entry")))
            })
            .collect()
    };
    let usize_of = |x: u64| usize::try_from(x).map_err(|_| bad(format!("{x} exceeds usize")));
    let chosen = list("chosen")?
        .into_iter()
        .map(usize_of)
        .collect::<Result<Vec<_>>>()?;
    let chosen_multipliers = list("chosen_multipliers")?
        .into_iter()
        .map(|b| {
            u32::try_from(b)
                .map(f32::from_bits)
                .map_err(|_| bad(format!("multiplier bits {b} exceed 32 bits")))
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(EpisodeLog {
        episode: usize_of(u64_field("episode")?)?,
        seed: u64_field("seed")?,
        init_scale: f32_field("init_scale")?,
        reward: f32_field("reward")?,
        baseline: f32_field("baseline")?,
        mean_score: f32_field("mean_score")?,
        start_score: f32_field("start_score")?,
        final_score: f32_field("final_score")?,
        chosen,
        chosen_multipliers,
        p_largest: f32_field("p_largest")?,
        enn_loss: f32_field("enn_loss")?,
        mlp_loss: f32_field("mlp_loss")?,
    })
}

/// Serializes `state` (with the configuration and the ENN's image settings it belongs to) to
/// safetensors bytes.
pub fn to_bytes(state: &TrainState, cfg: &ReinforceConfig, enn: &EvaluationNet) -> Result<Vec<u8>> {
    let names: Vec<String> = enn.named_params().into_iter().map(|(n, _)| n).collect();
    if names.len() != state.enn_params.len() {
        return Err(Error::invalid(
            "checkpoint::to_bytes",
            "ENN parameter count differs from the state's",
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
    let replay_images;
    let replay_rewards;
    if let Some((first, _)) = state.replay.first() {
        let mut dims = first.dims().to_vec();
        if dims.len() != 4 || dims[0] != 1 {
            return Err(Error::shape(
                "checkpoint::to_bytes",
                "replay images (1, c, h, w)",
                format!("{dims:?}"),
            ));
        }
        let mut data = Vec::with_capacity(state.replay.len() * first.numel());
        for (img, _) in &state.replay {
            img.expect_dims("checkpoint::to_bytes", &dims)?;
            data.extend_from_slice(img.data());
        }
        dims[0] = state.replay.len();
        replay_images = Tensor::from_vec(data, &dims)?;
        replay_rewards = Tensor::from_vec(
            state.replay.iter().map(|(_, r)| *r).collect(),
            &[state.replay.len()],
        )?;
        owned.push(("replay.images".into(), &replay_images));
        owned.push(("replay.rewards".into(), &replay_rewards));
    }
    let tensors: Vec<(&str, &Tensor)> = owned.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    let logs = Value::Array(state.logs.iter().map(log_to_json).collect()).to_string();
    let meta = [
        ("format", FORMAT.to_string()),
        ("rng_words", state.rng_words.to_string()),
        ("next_episode", state.next_episode.to_string()),
        ("adam_t", state.adam_t.to_string()),
        ("n_rewards", state.n_rewards.to_string()),
        ("reward_sum", state.reward_sum.to_bits().to_string()),
        ("reward_sq", state.reward_sq.to_bits().to_string()),
        ("config", config_fingerprint(cfg)),
        ("image", format!("{:?}", enn.image)),
        ("logs", logs),
    ];
    let meta_refs: Vec<(&str, &str)> = meta.iter().map(|(k, v)| (*k, v.as_str())).collect();
    safetensors::to_bytes(&tensors, &meta_refs)
}

/// Writes the checkpoint atomically into `dir` (see the module docs for why one file).
pub fn save(
    dir: &Path,
    state: &TrainState,
    cfg: &ReinforceConfig,
    enn: &EvaluationNet,
) -> Result<PathBuf> {
    let path = checkpoint_path(dir);
    write_atomic(&path, &to_bytes(state, cfg, enn)?)?;
    Ok(path)
}

/// Reads the checkpoint in `dir` and checks it against the run it should continue: the
/// configuration (except `episodes` and `checkpoint_every`), the ENN's image settings and
/// parameter shapes, and the internal consistency of every field.
pub fn load(dir: &Path, cfg: &ReinforceConfig, enn: &EvaluationNet) -> Result<TrainState> {
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

/// Parses checkpoint bytes (as [`load`] does after reading the file); `path` names the
/// source in errors. Any bytes give `Ok` or a typed error, never a panic (fuzz target
/// `checkpoint`).
pub fn from_bytes(
    bytes: &[u8],
    path: &Path,
    cfg: &ReinforceConfig,
    enn: &EvaluationNet,
) -> Result<TrainState> {
    let mut w = safetensors::from_bytes(bytes, path)?;
    let bad = |reason: String| Error::format(path, None, reason);
    let meta = |k: &str| {
        w.meta(k)
            .map(str::to_string)
            .ok_or_else(|| bad(format!("metadata {k:?} missing")))
    };
    let int = |k: &str| -> Result<u64> {
        let s = meta(k)?;
        s.parse::<u64>()
            .map_err(|_| bad(format!("metadata {k:?} = {s:?} is not an unsigned integer")))
    };
    let to_usize = |k: &str, x: u64| {
        usize::try_from(x).map_err(|_| bad(format!("metadata {k:?} = {x} exceeds usize")))
    };
    if meta("format")? != FORMAT {
        return Err(bad(format!(
            "format {:?}, expected {FORMAT:?}",
            meta("format")?
        )));
    }
    let fingerprint = config_fingerprint(cfg);
    if meta("config")? != fingerprint {
        return Err(bad(format!(
            "written by a run with another configuration (checkpoint: {}; this run: {fingerprint})",
            meta("config")?
        )));
    }
    let image = format!("{:?}", enn.image);
    if meta("image")? != image {
        return Err(bad(format!(
            "ENN image settings {} differ from this run's {image}",
            meta("image")?
        )));
    }
    let rng_words = int("rng_words")?;
    let next_episode = to_usize("next_episode", int("next_episode")?)?;
    let adam_t = int("adam_t")?;
    let n_rewards = to_usize("n_rewards", int("n_rewards")?)?;
    let reward_sum = f64::from_bits(int("reward_sum")?);
    let reward_sq = f64::from_bits(int("reward_sq")?);
    let logs_json: Value = serde_json::from_str(&meta("logs")?)
        .map_err(|e| bad(format!("metadata \"logs\" is not JSON: {e}")))?;
    let logs = logs_json
        .as_array()
        .ok_or_else(|| bad("metadata \"logs\" is not a JSON array".into()))?
        .iter()
        .map(|v| log_from_json(v, &bad))
        .collect::<Result<Vec<_>>>()?;
    if logs.len() != next_episode || logs.iter().enumerate().any(|(i, l)| l.episode != i) {
        return Err(bad(format!(
            "{} logs (episodes {:?}) for next_episode {next_episode}",
            logs.len(),
            logs.iter().map(|l| l.episode).collect::<Vec<_>>()
        )));
    }
    if n_rewards > next_episode || !reward_sum.is_finite() || !reward_sq.is_finite() {
        return Err(bad(format!(
            "reward statistics n = {n_rewards}, Σ = {reward_sum}, Σ² = {reward_sq} for {next_episode} episodes"
        )));
    }

    let shapes: Vec<(String, Vec<usize>)> = enn
        .named_params()
        .into_iter()
        .map(|(n, t)| (n, t.dims().to_vec()))
        .collect();
    let mut enn_params = Vec::with_capacity(shapes.len());
    for (n, dims) in &shapes {
        enn_params.push(
            w.take(&format!("enn.{n}"), dims)
                .map_err(|e| bad(e.to_string()))?,
        );
    }
    let (mut adam_m, mut adam_v) = (Vec::new(), Vec::new());
    if w.tensors.iter().any(|(n, _)| n.starts_with("adam.")) {
        for (i, (_, dims)) in shapes.iter().enumerate() {
            adam_m.push(
                w.take(&format!("adam.m.{i}"), dims)
                    .map_err(|e| bad(e.to_string()))?,
            );
            adam_v.push(
                w.take(&format!("adam.v.{i}"), dims)
                    .map_err(|e| bad(e.to_string()))?,
            );
        }
    }
    if adam_m.is_empty() != (adam_t == 0) {
        return Err(bad(format!(
            "Adam t = {adam_t} with {} moment tensors",
            adam_m.len()
        )));
    }
    let mut replay = Vec::new();
    let has_images = w.tensors.iter().any(|(n, _)| n == "replay.images");
    let has_rewards = w.tensors.iter().any(|(n, _)| n == "replay.rewards");
    if has_images || has_rewards {
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
        let rewards = w
            .take("replay.rewards", &[d[0]])
            .map_err(|e| bad(e.to_string()))?;
        let one = [1, d[1], d[2], d[3]];
        let per = d[1] * d[2] * d[3];
        for (i, &r) in rewards.data().iter().enumerate() {
            let img = Tensor::from_vec(images.data()[i * per..(i + 1) * per].to_vec(), &one)?;
            replay.push((img, r));
        }
        if replay.len() > cfg.value.replay_capacity {
            return Err(bad(format!(
                "{} replay pairs exceed the configured capacity {}",
                replay.len(),
                cfg.value.replay_capacity
            )));
        }
        w.tensors.retain(|(n, _)| n != "replay.images");
    }
    if let Some((n, _)) = w.tensors.first() {
        return Err(bad(format!("unexpected tensor {n:?}")));
    }
    Ok(TrainState {
        rng_words,
        next_episode,
        enn_params,
        adam_t,
        adam_m,
        adam_v,
        reward_sum,
        reward_sq,
        n_rewards,
        replay,
        logs,
    })
}
