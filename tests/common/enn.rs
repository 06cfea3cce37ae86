//! Fixtures for the ENN-training tests (tests/instructor.rs, tests/instructor_integrity.rs,
//! tests/robustness.rs): one small synthetic data set, one small training configuration, one
//! seeded ENN, and bit-for-bit comparisons of what training produces.

use super::synthetic;
use grad_instructor::data::Dataset;
use grad_instructor::instructor::{
    Checkpoints, EnnRule, EnnTrainingConfig, EpisodeLog, EvaluationNet, ValueConfig,
};
use grad_instructor::nn::Module;
use grad_instructor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;

/// Input width of the fixture data: the target MLPs are `DIM`-20-3.
pub const DIM: usize = 40;

/// The seed of [`fresh_enn`]'s initial weights.
pub const ENN_SEED: u64 = 72;

/// Training (200 samples) and validation (60) sets of 3 classes in [0, 1]^DIM, from one
/// seeded generator, so that every test (and a test's child process) builds the same data.
pub fn enn_data() -> (Dataset, Dataset) {
    let mut rng = StdRng::seed_from_u64(2024);
    let train = synthetic(200, DIM, 3, &mut rng);
    let val = synthetic(60, DIM, 3, &mut rng);
    (train, val)
}

/// A training run of about a second per few episodes: `episodes` episodes of 24 steps of a
/// DIM-20-3 MLP, decisions every 6 steps, a 16-entry replay buffer for the value rule.
/// Tests that checkpoint set `checkpoint_every` themselves.
pub fn small_enn_config(rule: EnnRule, episodes: usize) -> EnnTrainingConfig {
    EnnTrainingConfig {
        rule,
        episodes,
        steps_per_episode: 24,
        batch: 16,
        decide_every: 6,
        branch_steps: 2,
        hidden: vec![20],
        val_limit: 0,
        value: ValueConfig {
            record_every: 4,
            replay_capacity: 16,
            replay_batch: 4,
            updates_per_episode: 2,
        },
        ..EnnTrainingConfig::default()
    }
}

/// The ENN every fixture run starts from (seed [`ENN_SEED`]).
pub fn fresh_enn() -> EvaluationNet {
    EvaluationNet::new(&mut StdRng::seed_from_u64(ENN_SEED)).unwrap()
}

/// Checkpoint options: write into `save_to`, resume from `resume_from`.
pub fn ckpt<'a>(save_to: Option<&'a Path>, resume_from: Option<&'a Path>) -> Checkpoints<'a> {
    Checkpoints {
        save_to,
        resume_from,
    }
}

/// Bit-for-bit comparison of logs (`PartialEq` on f32 would call two NaNs different and
/// 0.0 == -0.0 equal; the Debug text shows NaN as NaN and distinguishes the zeros).
pub fn assert_same_logs(a: &[EpisodeLog], b: &[EpisodeLog]) {
    assert_eq!(format!("{a:?}"), format!("{b:?}"));
}

/// Bit-for-bit comparison of ENN parameters.
pub fn assert_same_enn(a: &EvaluationNet, b: &EvaluationNet) {
    let bits = |t: &Tensor| t.data().iter().map(|v| v.to_bits()).collect::<Vec<_>>();
    let (pa, pb) = (a.params(), b.params());
    assert_eq!(pa.len(), pb.len());
    for (x, y) in pa.into_iter().zip(pb) {
        assert_eq!(x.dims(), y.dims());
        assert_eq!(bits(x), bits(y));
    }
}
