//! Fuzz target `checkpoint`: the ENN-training checkpoint parser
//! (`instructor::checkpoint::from_bytes`, what `--resume` reads after a crash) must return
//! `Ok` or a typed error for any bytes, never panic; whatever it accepts must serialize again
//! and parse back to the same state.
//!
//! Run (stable toolchain; cargo-fuzz needs nightly flags, RUSTC_BOOTSTRAP unlocks them):
//!   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir . checkpoint corpus/checkpoint -- -max_total_time=300
//!
//! The seed corpus (`corpus/checkpoint/`) holds real checkpoints of a tiny run, so mutations
//! start from files that pass the safetensors layer and reach the checkpoint's own checks.
//! A checkpoint carries a CRC-32 of its content, which nearly every mutation breaks; so each
//! input is tried twice: as it is (the checksum must reject it unless it is intact), and
//! re-sealed — parsed without verification and written again with a fresh checksum — so
//! that mutations of the metadata and tensors reach the checks behind the checksum.
use grad_instructor::instructor::checkpoint::{from_bytes, to_bytes};
use grad_instructor::instructor::{EnnRule, EnnTrainingConfig, EvaluationNet, ValueConfig};
use grad_instructor::io::safetensors::{self, CHECKSUM_KEY};
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;
use std::sync::OnceLock;

/// The configuration of the seed corpus's run (`checkpoint_seed_config` below): a checkpoint
/// must match it to get past the fingerprint check.
pub fn checkpoint_seed_config() -> EnnTrainingConfig {
    EnnTrainingConfig {
        rule: EnnRule::Value,
        episodes: 2,
        steps_per_episode: 8,
        batch: 4,
        decide_every: 4,
        branch_steps: 2,
        hidden: vec![16],
        val_limit: 0,
        value: ValueConfig {
            record_every: 4,
            replay_capacity: 8,
            replay_batch: 2,
            updates_per_episode: 1,
        },
        checkpoint_every: 1,
        ..EnnTrainingConfig::default()
    }
}

/// The configuration and ENN every checkpoint is checked against (built once).
pub fn setup() -> &'static (EnnTrainingConfig, EvaluationNet) {
    static S: OnceLock<(EnnTrainingConfig, EvaluationNet)> = OnceLock::new();
    S.get_or_init(|| {
        let enn = EvaluationNet::new(&mut StdRng::seed_from_u64(1)).expect("ENN");
        (checkpoint_seed_config(), enn)
    })
}

/// The input parsed without checksum verification and written again with a fresh checksum.
fn reseal(data: &[u8]) -> Option<Vec<u8>> {
    let w = safetensors::from_bytes_unverified(data, Path::new("fuzz")).ok()?;
    let tensors: Vec<(&str, &_)> = w.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let meta: Vec<(&str, &str)> = w
        .metadata
        .iter()
        .filter(|(k, _)| k != CHECKSUM_KEY)
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    safetensors::to_bytes_checked(&tensors, &meta).ok()
}

fn check(data: &[u8]) {
    let (cfg, enn) = setup();
    let Ok(state) = from_bytes(data, Path::new("fuzz"), cfg, enn) else {
        return;
    };
    let again = to_bytes(&state, cfg, enn).expect("an accepted state serializes");
    let back = from_bytes(&again, Path::new("fuzz"), cfg, enn).expect("and parses back");
    assert_eq!(format!("{state:?}"), format!("{back:?}"));
}

/// The target's check of one input: panics when an invariant fails.
pub fn run(data: &[u8]) {
    check(data);
    if let Some(sealed) = reseal(data) {
        check(&sealed);
    }
}
