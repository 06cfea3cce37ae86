//! Training, saving and loading the ENN for a run.

use super::progress::Progress;
use crate::data::Dataset;
use crate::error::Result;
use crate::instructor::{
    train_enn_resumable, Checkpoints, EnnTrainingConfig, EpisodeLog, EvaluationNet, TrainRng,
    WeightImageConfig,
};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;

/// The ENN's training split: `(episode training images, validation images for the reward)`,
/// `n_val` images (at most half the set) carved from the *training* set with a seeded shuffle
/// (the test set is never used).
pub fn enn_split(train: &Dataset, seed: u64, n_val: usize) -> Result<(Dataset, Dataset)> {
    let n_val = n_val.min(train.len() / 2);
    train.split_validation(n_val, &mut StdRng::seed_from_u64(seed ^ 0xE1A1))
}

/// Trains an ENN from `seed` with `cfg`, seeing W1 through `image`, advancing `progress` once
/// per episode.
pub fn train_one_enn(
    cfg: &EnnTrainingConfig,
    image: &WeightImageConfig,
    split: &(Dataset, Dataset),
    seed: u64,
    label: &str,
    progress: &dyn Progress,
) -> Result<(EvaluationNet, Vec<EpisodeLog>)> {
    train_one_enn_checkpointed(cfg, image, split, seed, label, None, None, progress)
}

/// [`train_one_enn`] writing checkpoints into `checkpoint_dir` (every
/// `cfg.checkpoint_every` episodes) and, with `resume_from`, continuing from the checkpoint
/// there. The ENN's initial weights and then the episodes draw from one RNG seeded with
/// `seed`; a resumed run re-creates it the same way (the checkpoint says where the stream stood).
#[allow(clippy::too_many_arguments)]
pub fn train_one_enn_checkpointed(
    cfg: &EnnTrainingConfig,
    image: &WeightImageConfig,
    split: &(Dataset, Dataset),
    seed: u64,
    label: &str,
    checkpoint_dir: Option<&Path>,
    resume_from: Option<&Path>,
    progress: &dyn Progress,
) -> Result<(EvaluationNet, Vec<EpisodeLog>)> {
    let (tr, val) = split;
    let mut rng = TrainRng::seed_from_u64(seed);
    let mut enn = EvaluationNet::new(&mut rng)?;
    enn.image = image.clone();
    if let Some(dir) = resume_from {
        progress.note(&format!("[{label}] resuming from {}", dir.display()));
    }
    let total = cfg.episodes;
    let on_episode = |log: &EpisodeLog| {
        progress.advance(
            1,
            &format!(
                "[{label} {}/{total}] reward {:.4} baseline {:.4} E(final) {:.4} multipliers {:?}",
                log.episode + 1,
                log.reward,
                log.baseline,
                log.final_score,
                log.chosen_multipliers
            ),
        );
    };
    let ckpt = Checkpoints {
        save_to: checkpoint_dir,
        resume_from,
    };
    let logs = train_enn_resumable(&mut enn, cfg, tr, val, &mut rng, ckpt, on_episode)?;
    Ok((enn, logs))
}

/// Saves an ENN (weights and image configuration) as safetensors, atomically, with `metadata`
/// in the header.
pub fn save_enn(path: &Path, enn: &EvaluationNet, metadata: &[(&str, &str)]) -> Result<()> {
    enn.save(path, metadata)
}

/// Loads an ENN saved by [`save_enn`].
pub fn load_enn(path: &Path) -> Result<EvaluationNet> {
    EvaluationNet::load(path)
}
