//! The fuzz targets' checks (fuzz/checks/, the same code cargo-fuzz runs) replayed on every
//! committed input as ordinary tests: the seed corpus (fuzz/corpus/<target>/) and the saved
//! findings (fuzz/regressions/<target>/, the inputs that once crashed, hung or aborted; each is
//! also pinned by a hand-written test in tests/fuzz_regressions.rs that says what it was).
//!
//! A replay fails when the check panics (an invariant broke) or hangs. Compiling the checks
//! here also keeps them building when the library's API changes, which `cargo test` would not
//! otherwise notice (the fuzz crate is outside the workspace).
//!
//! New findings: copy `fuzz/artifacts/<target>/crash-*` to `fuzz/regressions/<target>/` under
//! a name that says what it found, and it is replayed from then on.

use std::path::{Path, PathBuf};

#[path = "../fuzz/checks/checkpoint.rs"]
mod checkpoint;
#[path = "../fuzz/checks/idx.rs"]
mod idx;
#[path = "../fuzz/checks/kernels.rs"]
mod kernels;
#[path = "../fuzz/checks/safetensors.rs"]
mod safetensors;
#[path = "../fuzz/checks/tensor.rs"]
mod tensor;

/// Every file in fuzz/corpus/<target>/ and fuzz/regressions/<target>/ (sorted, so failures
/// name the same file each time), with its bytes. Dotfiles are skipped (git ignores them).
fn inputs(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
    let mut files = Vec::new();
    for kind in ["corpus", "regressions"] {
        let Ok(dir) = std::fs::read_dir(root.join(kind).join(target)) else {
            continue;
        };
        for entry in dir {
            let path = entry.unwrap().path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if path.is_file() && !hidden {
                files.push(path);
            }
        }
    }
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect()
}

/// Runs `check` on every input of `target`, naming the file on failure; returns how many ran.
fn replay(target: &str, check: fn(&[u8])) -> usize {
    let inputs = inputs(target);
    for (path, bytes) in &inputs {
        let outcome = std::panic::catch_unwind(|| check(bytes));
        assert!(
            outcome.is_ok(),
            "fuzz target {target}: {} fails its check",
            path.display()
        );
    }
    inputs.len()
}

#[test]
fn idx_corpus_replays_clean() {
    // 5 seeds committed; a vanished corpus must not pass silently.
    assert!(replay("idx", idx::run) >= 5);
}

#[test]
fn safetensors_corpus_replays_clean_and_every_seed_parses() {
    assert!(replay("safetensors", safetensors::run) >= 4);
    // The seeds are valid files (so mutations start past the header checks); a format change
    // that invalidates them would quietly weaken the fuzzing.
    for (path, bytes) in inputs("safetensors") {
        grad_instructor::io::safetensors::from_bytes(&bytes, &path)
            .unwrap_or_else(|e| panic!("seed {} no longer parses: {e}", path.display()));
    }
}

#[test]
fn tensor_corpus_and_findings_replay_clean() {
    // 4 seeds + 4 findings. The last finding was recorded with the target's `op % 6` byte
    // program of that time (now `op % 7`), so it replays a neighbouring op sequence; its
    // exact case is pinned in tests/fuzz_regressions.rs.
    assert!(replay("tensor", tensor::run) >= 8);
}

#[test]
fn kernels_findings_replay_clean() {
    // The one kernels finding (sgemm, folded-alpha underflow), every ISA this CPU has.
    assert!(replay("kernels", kernels::run) >= 1);
}

#[test]
fn checkpoint_corpus_replays_clean_and_every_seed_is_accepted() {
    assert!(replay("checkpoint", checkpoint::run) >= 2);
    // The seeds are real checkpoints of the run `checkpoint_seed_config` describes; they must
    // pass every check (checksum, fingerprint, shapes) or the fuzzer never gets past the first.
    // Regenerate with `cargo test --release --test robustness -- --ignored write_checkpoint`.
    let (cfg, enn) = checkpoint::setup();
    for (path, bytes) in inputs("checkpoint") {
        grad_instructor::instructor::checkpoint::from_bytes(&bytes, &path, cfg, enn)
            .unwrap_or_else(|e| panic!("seed {} is rejected: {e}", path.display()));
    }
}
