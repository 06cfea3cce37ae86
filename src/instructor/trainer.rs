//! The ENN-training loop: episodes, the rule's update after each, and the state that a
//! checkpoint saves and a resumed run restores.
//!
//! ## Randomness, and how a resumed run finds its place
//!
//! All of training's randomness comes from one generator, [`TrainRng`]: each episode's seed
//! (one `u64` per episode, from which the episode makes its own generator) and the value
//! rule's replay draws. `TrainRng` is `rand_chacha::ChaCha12Rng`, the algorithm behind rand
//! 0.8's `StdRng`: `TrainRng::seed_from_u64(s)` gives the same stream as
//! `StdRng::seed_from_u64(s)` (a test holds this), so results measured with `StdRng` stay
//! the same. Unlike `StdRng` it reports its key, stream and word position in the key stream
//! (`get_seed`, `get_stream`, `get_word_pos`) and can be moved to a position
//! (`set_word_pos`). A [`TrainState`] records the key, the position at which training started
//! (after the caller's own draws, e.g. the ENN's initialization) and the position after the
//! last finished episode. Resuming ([`Trainer::resume`]) requires the caller's generator to
//! have the same key and to stand at the same start position — i.e. the same seed and the
//! same draws before training — and then moves it to the saved position: the resumed run
//! draws exactly what the uninterrupted run would have.
//!
//! Checkpoint files are [`checkpoint`](super::checkpoint)'s business; this module knows no
//! files (it hands each due state to a caller's `save` function).

use super::config::{EnnRule, EnnTrainingConfig};
use super::enn::EvaluationNet;
use super::episode::{check_data, run_episode, Episode, EpisodeLog};
use super::rules::reinforce::{reinforce_update, RewardStats};
use super::rules::value::{value_update, ReplayBuffer};
use crate::data::{Dataset, DatasetFingerprint};
use crate::error::{Error, Result};
use crate::nn::{Adam, Module};
use crate::tensor::Tensor;
use rand::Rng;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// The generator of ENN training: rand 0.8's `StdRng` algorithm (ChaCha12) with a readable
/// and settable stream position (see the module docs).
pub type TrainRng = rand_chacha::ChaCha12Rng;

/// Where the training generator stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RngPosition {
    /// The generator's 32-byte ChaCha key (what `seed_from_u64` expands the seed into).
    pub key: [u8; 32],
    /// The ChaCha stream number.
    pub stream: u64,
    /// Word position when training started.
    pub start: u128,
    /// Word position after the last finished episode.
    pub now: u128,
}

/// The state of ENN training between two episodes: everything the loop carries from one
/// episode to the next, and what it was computed from.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainState {
    /// The training generator's position.
    pub rng: RngPosition,
    /// Index of the next episode to run (= number of finished episodes).
    pub next_episode: usize,
    /// ENN parameters in [`Module::params`] order.
    pub enn_params: Vec<Tensor>,
    /// Adam's step count.
    pub adam_t: u64,
    /// Adam's first moments (empty before the first step).
    pub adam_m: Vec<Tensor>,
    /// Adam's second moments (empty before the first step).
    pub adam_v: Vec<Tensor>,
    /// The reward statistics behind the baseline.
    pub rewards: RewardStats,
    /// The replay buffer's (image, reward) pairs, oldest first.
    pub replay: Vec<(Tensor, f32)>,
    /// Logs of the finished episodes.
    pub logs: Vec<EpisodeLog>,
    /// Fingerprints of the training and validation sets the episodes drew from.
    pub data: [DatasetFingerprint; 2],
}

/// Names the episode in a non-finite error (`"enn-episode"` steps count the episode's MLP
/// steps, `"enn-training"` steps count the ENN's Adam steps); other errors pass.
fn in_episode(err: Error, episode: usize) -> Error {
    match err {
        Error::NonFinite { run, step, what } => Error::NonFinite {
            run: format!("{run} (ENN training episode {episode})"),
            step,
            what,
        },
        e => e,
    }
}

/// What [`Trainer::run`] hands each due state to (with the ENN it belongs to).
pub type SaveFn<'s> = dyn FnMut(&TrainState, &EvaluationNet) -> Result<()> + 's;

/// A run of ENN training: [`Trainer::new`] checks the inputs, [`Trainer::resume`] optionally
/// restores a saved state, [`Trainer::run`] trains the remaining episodes.
pub struct Trainer<'a> {
    enn: &'a mut EvaluationNet,
    cfg: &'a EnnTrainingConfig,
    train: &'a Dataset,
    val: &'a Dataset,
    rng: &'a mut TrainRng,
    start: u128,
    next_episode: usize,
    adam: Adam,
    buffer: ReplayBuffer,
    rewards: RewardStats,
    logs: Vec<EpisodeLog>,
    data: Option<[DatasetFingerprint; 2]>,
}

impl<'a> Trainer<'a> {
    /// Training of `enn` under `cfg` on episodes drawn from `train` (batches) and `val`
    /// (rewards), with all randomness from `rng` in its current state. Checks the
    /// configuration, the data and that the episode MLP's W1 makes an image the ENN can read.
    pub fn new(
        enn: &'a mut EvaluationNet,
        cfg: &'a EnnTrainingConfig,
        train: &'a Dataset,
        val: &'a Dataset,
        rng: &'a mut TrainRng,
    ) -> Result<Self> {
        cfg.validate()?;
        check_data(train, val)?;
        cfg.check_image(train.dim, &enn.image)?;
        Ok(Trainer {
            start: rng.get_word_pos(),
            next_episode: 0,
            adam: Adam::new(cfg.enn_lr),
            buffer: ReplayBuffer::new(cfg.value.replay_capacity),
            rewards: RewardStats::default(),
            logs: Vec::with_capacity(cfg.episodes),
            data: None,
            enn,
            cfg,
            train,
            val,
            rng,
        })
    }

    /// The fingerprints of the training and validation sets (computed once, on first use).
    pub fn data_fingerprints(&mut self) -> [DatasetFingerprint; 2] {
        *self
            .data
            .get_or_insert_with(|| [self.train.fingerprint(), self.val.fingerprint()])
    }

    /// Continues from `state` (read from `origin`, which errors name): checks that it belongs
    /// to this run — the same generator key and start position (same seed, same draws before
    /// training), the same data, at most `cfg.episodes` finished episodes, the ENN's
    /// parameter shapes — then restores the ENN's parameters, Adam, the replay buffer, the
    /// reward statistics, the logs and the generator's position. (The configuration and the
    /// ENN's image settings are checked where the state is read.)
    pub fn resume(&mut self, state: TrainState, origin: &Path) -> Result<()> {
        let bad = |reason: String| Err(Error::invalid("ENN training resume", reason));
        let here = origin.display();
        if state.rng.key != self.rng.get_seed() || state.rng.stream != self.rng.get_stream() {
            return bad(format!(
                "the RNG differs from the run that wrote the checkpoint in {here} (another \
                 seed); resume with the same seed"
            ));
        }
        if state.rng.start != self.start {
            return bad(format!(
                "the RNG stands at word {} but the run that wrote the checkpoint in {here} \
                 started training at word {} (other draws before training, e.g. another ENN \
                 initialization)",
                self.start, state.rng.start
            ));
        }
        if state.next_episode > self.cfg.episodes {
            return bad(format!(
                "checkpoint in {here} is past episode {} of a {}-episode run",
                state.next_episode, self.cfg.episodes
            ));
        }
        let ours = self.data_fingerprints();
        for (i, name) in ["training", "validation"].iter().enumerate() {
            if state.data[i] != ours[i] {
                return bad(format!(
                    "the checkpoint in {here} was trained on another {name} set ({}); this \
                     run's is {}; resume with the same data",
                    state.data[i], ours[i]
                ));
            }
        }
        self.restore(state)
    }

    fn restore(&mut self, state: TrainState) -> Result<()> {
        let params = self.enn.params_mut();
        if params.len() != state.enn_params.len() {
            return Err(Error::invalid(
                "TrainState::restore",
                format!(
                    "{} ENN tensors for {} parameters",
                    state.enn_params.len(),
                    params.len()
                ),
            ));
        }
        for (p, saved) in params.into_iter().zip(&state.enn_params) {
            saved.expect_dims("TrainState::restore", p.dims())?;
            p.data_mut().copy_from_slice(saved.data());
        }
        self.adam = Adam::new(self.cfg.enn_lr);
        self.adam.t = state.adam_t;
        self.adam.m = state.adam_m;
        self.adam.v = state.adam_v;
        self.buffer = ReplayBuffer::new(self.cfg.value.replay_capacity);
        for (img, r) in state.replay {
            self.buffer.push(img, r);
        }
        self.rewards = state.rewards;
        self.logs = state.logs;
        self.next_episode = state.next_episode;
        self.rng.set_word_pos(state.rng.now);
        Ok(())
    }

    /// The current state (what a checkpoint saves).
    pub fn state(&mut self) -> TrainState {
        TrainState {
            rng: RngPosition {
                key: self.rng.get_seed(),
                stream: self.rng.get_stream(),
                start: self.start,
                now: self.rng.get_word_pos(),
            },
            next_episode: self.next_episode,
            enn_params: self.enn.params().into_iter().cloned().collect(),
            adam_t: self.adam.t,
            adam_m: self.adam.m.clone(),
            adam_v: self.adam.v.clone(),
            rewards: self.rewards,
            replay: self.buffer.pairs().map(|(t, r)| (t.clone(), r)).collect(),
            logs: self.logs.clone(),
            data: self.data_fingerprints(),
        }
    }

    /// Trains the remaining episodes; calls `on_episode` after each update and, with `save`,
    /// hands it the state (and the ENN) after every `cfg.checkpoint_every` episodes and after the last.
    /// Returns every log (restored ones included). A run stopped by an error (e.g.
    /// [`Error::NonFinite`], which names the episode, the step and the quantity) saves
    /// nothing more, so the last good state stays saved.
    pub fn run(
        mut self,
        mut save: Option<&mut SaveFn<'_>>,
        mut on_episode: impl FnMut(&EpisodeLog),
    ) -> Result<Vec<EpisodeLog>> {
        for episode in self.next_episode..self.cfg.episodes {
            self.check_enn(episode, false)?;
            let log = self.episode(episode)?;
            on_episode(&log);
            self.logs.push(log);
            self.next_episode = episode + 1;
            let (done, every) = (self.next_episode, self.cfg.checkpoint_every);
            let due = done == self.cfg.episodes || (every > 0 && done.is_multiple_of(every));
            if let (Some(save), true) = (save.as_mut(), due) {
                self.check_enn(episode, true)?;
                save(&self.state(), self.enn)?;
            }
        }
        Ok(self.logs)
    }

    /// A NaN ENN weight can hide from the score (a ReLU maps NaN to 0), and Adam keeps a NaN
    /// parameter NaN; so the parameters are checked directly, once per episode. Adam's update
    /// rejects non-finite gradients, but a huge step can still overflow a parameter or a
    /// moment: `with_moments` checks those too, before a state is saved over a good one.
    fn check_enn(&self, episode: usize, with_moments: bool) -> Result<()> {
        let named = self.enn.named_params();
        let bad_param = named.iter().position(|(_, p)| !p.all_finite());
        let bad_moment = with_moments
            && self
                .adam
                .m
                .iter()
                .chain(&self.adam.v)
                .any(|t| !t.all_finite());
        if bad_param.is_none() && !bad_moment {
            return Ok(());
        }
        let what = match bad_param {
            Some(i) if !with_moments => format!("ENN parameter {i} ({})", named[i].0),
            _ => "ENN parameter or Adam moment before a checkpoint".into(),
        };
        Err(Error::NonFinite {
            run: format!("enn-training (ENN training episode {episode})"),
            step: self.adam.t as usize,
            what,
        })
    }

    /// One episode under the current ENN, then the rule's update.
    fn episode(&mut self, episode: usize) -> Result<EpisodeLog> {
        let cfg = self.cfg;
        let seed: u64 = self.rng.gen();
        let Episode {
            mut log,
            decisions,
            states,
        } = run_episode(self.enn, cfg, self.train, self.val, episode, seed)
            .map_err(|e| in_episode(e, episode))?;
        let r = log.reward as f64;
        log.baseline = self.rewards.baseline(r) as f32;
        log.enn_loss = match cfg.rule {
            EnnRule::Reinforce => {
                let advantage = self.rewards.advantage(r, cfg.normalize_advantage);
                let k = cfg.lr_multipliers.len();
                reinforce_update(self.enn, &mut self.adam, &decisions, k, cfg.tau, advantage)
            }
            EnnRule::Value => value_update(
                self.enn,
                &mut self.adam,
                &states,
                log.reward,
                &mut self.buffer,
                &cfg.value,
                self.rng,
            ),
        }
        .map_err(|e| in_episode(e, episode))?;
        self.rewards.push(r);
        Ok(log)
    }
}

/// Trains `enn` for `cfg.episodes` episodes with `cfg.rule` on batches from `train` and
/// rewards on `val`; calls `on_episode` after each update and returns every log. All
/// randomness comes from `rng`, so the same seed gives identical logs on the same machine and
/// ISA. No checkpoints: see [`train_enn_resumable`](super::checkpoint::train_enn_resumable).
pub fn train_enn(
    enn: &mut EvaluationNet,
    cfg: &EnnTrainingConfig,
    train: &Dataset,
    val: &Dataset,
    rng: &mut TrainRng,
    on_episode: impl FnMut(&EpisodeLog),
) -> Result<Vec<EpisodeLog>> {
    Trainer::new(enn, cfg, train, val, rng)?.run(None, on_episode)
}
