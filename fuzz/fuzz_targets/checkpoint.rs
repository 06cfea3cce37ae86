#![no_main]
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
use grad_instructor::instructor::checkpoint::{from_bytes, to_bytes};
use grad_instructor::instructor::{EnnRule, EvaluationNet, ReinforceConfig, ValueConfig};
use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;
use std::sync::OnceLock;

/// The configuration of the seed corpus's run (`checkpoint_seed_config` below): a checkpoint
/// must match it to get past the fingerprint check.
pub fn checkpoint_seed_config() -> ReinforceConfig {
    ReinforceConfig {
        rule: EnnRule::Value,
        episodes: 2,
        steps_per_episode: 8,
        batch: 4,
        decide_every: 4,
        branch_steps: 2,
        hidden: 16,
        val_limit: 0,
        value: ValueConfig {
            record_every: 4,
            replay_capacity: 8,
            replay_batch: 2,
            updates_per_episode: 1,
        },
        checkpoint_every: 1,
        ..ReinforceConfig::default()
    }
}

fn setup() -> &'static (ReinforceConfig, EvaluationNet) {
    static S: OnceLock<(ReinforceConfig, EvaluationNet)> = OnceLock::new();
    S.get_or_init(|| {
        let enn = EvaluationNet::new(&mut StdRng::seed_from_u64(1)).expect("ENN");
        (checkpoint_seed_config(), enn)
    })
}

fuzz_target!(|data: &[u8]| {
    let (cfg, enn) = setup();
    let Ok(state) = from_bytes(data, Path::new("fuzz"), cfg, enn) else {
        return;
    };
    let again = to_bytes(&state, cfg, enn).expect("an accepted state serializes");
    let back = from_bytes(&again, Path::new("fuzz"), cfg, enn).expect("and parses back");
    assert_eq!(format!("{state:?}"), format!("{back:?}"));
});
