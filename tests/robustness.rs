//! Robustness of ENN training (the instructor layer): checkpoints that resume to a
//! bit-identical result (also after SIGKILL of a child process), non-finite training that
//! stops with a typed error and leaves the last good checkpoint intact, corrupt or foreign
//! checkpoints rejected. The other layers' robustness tests: tests/robustness_tensor.rs
//! (size limits), tests/robustness_data.rs (MNIST error paths), tests/robustness_cli.rs (the
//! `mnist_enn` example on bad input).

mod common;
// The fuzz target's checks, for the one definition of the seed corpus's configuration.
#[allow(dead_code)]
#[path = "../fuzz/checks/checkpoint.rs"]
mod fuzz_checkpoint;

use common::enn::{assert_same_enn, assert_same_logs, ckpt, enn_data, fresh_enn, small_enn_config};
use common::temp_dir;
use grad_instructor::data::Dataset;
use grad_instructor::instructor::checkpoint::{self, checkpoint_path, CHECKPOINT_FILE};
use grad_instructor::instructor::*;
use grad_instructor::nn::Module;
use grad_instructor::Error;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Environment variable that turns this test binary into the kill test's child process.
const CHILD_ENV: &str = "GI_ROBUSTNESS_CHILD_DIR";

/// The training and validation data every test here uses (seeded, so parent and child of
/// the kill test build the same data).
struct Data {
    train: Dataset,
    val: Dataset,
}

impl Data {
    fn new() -> Data {
        let (train, val) = enn_data();
        Data { train, val }
    }
}

/// A few seconds of training: 6 episodes of 24 steps on a 40-20-3 MLP, checkpoint every 2.
fn config(rule: EnnRule) -> EnnTrainingConfig {
    EnnTrainingConfig {
        checkpoint_every: 2,
        ..small_enn_config(rule, 6)
    }
}

const RUN_SEED: u64 = 5;

/// An uninterrupted run without checkpoints: the reference every resumed run must equal.
fn uninterrupted(cfg: &EnnTrainingConfig, data: &Data) -> (EvaluationNet, Vec<EpisodeLog>) {
    let mut enn = fresh_enn();
    let logs = train_enn_resumable(
        &mut enn,
        cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(None, None),
        |_| {},
    )
    .unwrap();
    (enn, logs)
}

#[test]
fn resumed_training_is_bit_identical_to_an_uninterrupted_run_under_both_rules() {
    let data = Data::new();
    for rule in [EnnRule::Value, EnnRule::Reinforce] {
        let cfg = config(rule);
        let (enn_ref, logs_ref) = uninterrupted(&cfg, &data);
        let dir = temp_dir(&format!("resume-{rule:?}"));
        // First half with checkpoints, as if the run stopped after episode 3.
        let first = EnnTrainingConfig {
            episodes: 3,
            ..cfg.clone()
        };
        let mut seen = Vec::new();
        let mut enn = fresh_enn();
        let logs_a = train_enn_resumable(
            &mut enn,
            &first,
            &data.train,
            &data.val,
            &mut TrainRng::seed_from_u64(RUN_SEED),
            ckpt(Some(&dir), None),
            |l| seen.push(l.episode),
        )
        .unwrap();
        assert_eq!(seen, vec![0, 1, 2]);
        assert_same_logs(&logs_a, &logs_ref[..3]);
        // Resume into a *different* ENN (its weights must be overwritten by the checkpoint).
        let mut resumed = EvaluationNet::new(&mut StdRng::seed_from_u64(999)).unwrap();
        let mut seen = Vec::new();
        let logs_b = train_enn_resumable(
            &mut resumed,
            &cfg,
            &data.train,
            &data.val,
            &mut TrainRng::seed_from_u64(RUN_SEED),
            ckpt(Some(&dir), Some(&dir)),
            |l| seen.push(l.episode),
        )
        .unwrap();
        assert_eq!(seen, vec![3, 4, 5], "{rule:?}: only new episodes reported");
        assert_same_logs(&logs_b, &logs_ref);
        assert_same_enn(&resumed, &enn_ref);
        // The final checkpoint holds the finished run.
        let state = checkpoint::load(&dir, &cfg, &resumed).unwrap();
        assert_eq!(state.next_episode, 6);
        assert_same_logs(&state.logs, &logs_ref);
        if rule == EnnRule::Value {
            assert!(!state.replay.is_empty(), "the value rule fills the buffer");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

#[test]
fn train_enn_and_train_enn_resumable_draw_the_same_random_stream() {
    let data = Data::new();
    let cfg = config(EnnRule::Value);
    let dir = temp_dir("same-stream");
    let mut enn = fresh_enn();
    let mut r1 = TrainRng::seed_from_u64(9);
    let logs = train_enn(&mut enn, &cfg, &data.train, &data.val, &mut r1, |_| {}).unwrap();
    let mut enn2 = fresh_enn();
    let mut r2 = TrainRng::seed_from_u64(9);
    let logs2 = train_enn_resumable(
        &mut enn2,
        &cfg,
        &data.train,
        &data.val,
        &mut r2,
        ckpt(Some(&dir), None),
        |_| {},
    )
    .unwrap();
    assert_same_logs(&logs, &logs2);
    assert_same_enn(&enn, &enn2);
    // Writing checkpoints draws nothing: both RNGs end in the same state.
    assert_eq!(r1.gen::<u64>(), r2.gen::<u64>());
    // The first episode's seed is the RNG's first draw.
    assert_eq!(logs[0].seed, TrainRng::seed_from_u64(9).gen::<u64>());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Not a test on its own: the body of the kill test's child process. The parent re-executes
/// this binary with `CHILD_ENV` set and `--ignored --exact` on this name.
#[test]
#[ignore = "child process of kill_and_resume_matches_an_uninterrupted_run"]
fn kill_test_child_process() {
    let Some(dir) = std::env::var_os(CHILD_ENV) else {
        return;
    };
    let data = Data::new();
    let cfg = config(EnnRule::Value);
    let mut enn = fresh_enn();
    train_enn_resumable(
        &mut enn,
        &cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(Some(Path::new(&dir)), None),
        // A pause per episode so the parent's SIGKILL lands in the middle of the run
        // (the pause changes no result; the parent checks that the run was unfinished).
        |_| std::thread::sleep(Duration::from_millis(400)),
    )
    .unwrap();
}

#[test]
fn kill_and_resume_matches_an_uninterrupted_run() {
    let dir = temp_dir("kill");
    let exe = std::env::current_exe().unwrap();
    let mut child = Command::new(exe)
        .args([
            "kill_test_child_process",
            "--exact",
            "--ignored",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, &dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let ckpt_file = checkpoint_path(&dir);
    let started = Instant::now();
    while !ckpt_file.exists() {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("child exited ({status}) before writing a checkpoint");
        }
        assert!(
            started.elapsed() < Duration::from_secs(120),
            "no checkpoint after 120 s"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL on Unix: no destructor, no flush, nothing runs.
    let status = child.wait().unwrap();
    assert!(
        !status.success(),
        "child was killed, not finished: {status}"
    );

    let data = Data::new();
    let cfg = config(EnnRule::Value);
    let mut enn = fresh_enn();
    let interrupted_at = checkpoint::load(&dir, &cfg, &enn).unwrap().next_episode;
    assert!(
        interrupted_at < cfg.episodes,
        "the kill must interrupt the run (checkpoint at episode {interrupted_at})"
    );
    let logs = train_enn_resumable(
        &mut enn,
        &cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(Some(&dir), Some(&dir)),
        |_| {},
    )
    .unwrap();
    let (enn_ref, logs_ref) = uninterrupted(&cfg, &data);
    assert_same_logs(&logs, &logs_ref);
    assert_same_enn(&enn, &enn_ref);
    eprintln!(
        "killed after the checkpoint of episode {interrupted_at}/{}; resumed run bit-identical",
        cfg.episodes
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn nan_in_training_stops_with_non_finite_and_keeps_the_last_good_checkpoint() {
    let data = Data::new();
    let cfg = config(EnnRule::Value);
    let dir = temp_dir("nan");
    let first = EnnTrainingConfig {
        episodes: 2,
        ..cfg.clone()
    };
    let mut enn = fresh_enn();
    train_enn_resumable(
        &mut enn,
        &first,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(Some(&dir), None),
        |_| {},
    )
    .unwrap();
    let good = std::fs::read(checkpoint_path(&dir)).unwrap();
    // A state that is finite but blows up in episode 2: with conv1's weights at 1e38 the
    // ENN's activations overflow, so the value rule's gradient is not finite. (Tampering with
    // the file itself would fail its checksum; this is a legitimately written state.)
    let mut state = checkpoint::load(&dir, &cfg, &enn).unwrap();
    state.enn_params[0].data_mut().fill(1e38);
    checkpoint::save(&dir, &state, &cfg, &enn).unwrap();
    let explosive = std::fs::read(checkpoint_path(&dir)).unwrap();
    let err = train_enn_resumable(
        &mut enn,
        &cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(Some(&dir), Some(&dir)),
        |_| panic!("no episode may finish"),
    )
    .unwrap_err();
    match &err {
        Error::NonFinite { run, step, what } => {
            assert!(
                run.contains("enn-training (ENN training episode 2)"),
                "{err}"
            );
            // "enn-training" steps count Adam's: 2 episodes x 2 updates before this one.
            assert_eq!(*step, 4, "{err}");
            assert!(what.contains("value-rule loss"), "{err}");
        }
        e => panic!("expected NonFinite, got {e:?}"),
    }
    // The checkpoint is the one written before, byte for byte; the good one still resumes.
    assert_eq!(std::fs::read(checkpoint_path(&dir)).unwrap(), explosive);
    let leftovers = std::fs::read_dir(&dir).unwrap().count();
    assert_eq!(leftovers, 1, "only {CHECKPOINT_FILE} in the folder");
    std::fs::write(checkpoint_path(&dir), &good).unwrap();
    let mut resumed = fresh_enn();
    let logs = train_enn_resumable(
        &mut resumed,
        &cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(None, Some(&dir)),
        |_| {},
    )
    .unwrap();
    let (enn_ref, logs_ref) = uninterrupted(&cfg, &data);
    assert_same_logs(&logs, &logs_ref);
    assert_same_enn(&resumed, &enn_ref);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn poisoned_enn_parameter_is_a_non_finite_error_naming_the_episode() {
    let data = Data::new();
    let cfg = config(EnnRule::Reinforce);
    let dir = temp_dir("poison");
    let mut enn = fresh_enn();
    enn.params_mut()[2].data_mut()[0] = f32::NAN; // conv2 weight
    let err = train_enn_resumable(
        &mut enn,
        &cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(Some(&dir), None),
        |_| {},
    )
    .unwrap_err();
    assert!(
        matches!(&err, Error::NonFinite { run, .. } if run.contains("episode 0")),
        "{err:?}"
    );
    assert!(
        !checkpoint_path(&dir).exists(),
        "no checkpoint of a bad state"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoint_of_another_config_or_seed_or_a_corrupt_file_is_rejected() {
    let data = Data::new();
    let cfg = EnnTrainingConfig {
        episodes: 1,
        ..config(EnnRule::Value)
    };
    let dir = temp_dir("reject");
    let mut enn = fresh_enn();
    train_enn_resumable(
        &mut enn,
        &cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(RUN_SEED),
        ckpt(Some(&dir), None),
        |_| {},
    )
    .unwrap();
    let resume = |cfg: &EnnTrainingConfig, rng: &mut TrainRng| {
        let mut e = fresh_enn();
        let c = ckpt(None, Some(&dir));
        train_enn_resumable(&mut e, cfg, &data.train, &data.val, rng, c, |_| {})
    };
    // Another learning rate: a format error saying so.
    let other = EnnTrainingConfig {
        enn_lr: 0.5,
        ..cfg.clone()
    };
    let err = resume(&other, &mut TrainRng::seed_from_u64(RUN_SEED)).unwrap_err();
    assert!(matches!(err, Error::Format { .. }), "{err:?}");
    assert!(err.to_string().contains("another configuration"), "{err}");
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    // Another seed: the RNG does not start where the interrupted run's did.
    assert!(matches!(
        resume(&cfg, &mut TrainRng::seed_from_u64(RUN_SEED + 1)),
        Err(Error::InvalidArgument { .. })
    ));
    // Resuming a finished 1-episode run as a 1-episode run does nothing; as a 2-episode run it
    // runs one more (episodes may grow).
    assert_eq!(
        resume(&cfg, &mut TrainRng::seed_from_u64(RUN_SEED))
            .unwrap()
            .len(),
        1
    );
    let longer = EnnTrainingConfig {
        episodes: 2,
        ..cfg.clone()
    };
    assert_eq!(
        resume(&longer, &mut TrainRng::seed_from_u64(RUN_SEED))
            .unwrap()
            .len(),
        2
    );
    // Every truncation of the file is an error, never a panic.
    let path = checkpoint_path(&dir);
    let bytes = std::fs::read(&path).unwrap();
    for cut in [0, 7, 8, 100, bytes.len() / 2, bytes.len() - 1] {
        std::fs::write(&path, &bytes[..cut]).unwrap();
        let err = resume(&longer, &mut TrainRng::seed_from_u64(RUN_SEED)).unwrap_err();
        assert!(matches!(err, Error::Format { .. }), "cut {cut}: {err:?}");
    }
    // A missing checkpoint is an I/O error naming the file.
    std::fs::remove_file(&path).unwrap();
    let err = resume(&cfg, &mut TrainRng::seed_from_u64(RUN_SEED)).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
    assert!(err.to_string().contains(CHECKPOINT_FILE), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Writes the seed corpus of the `checkpoint` fuzz target (fuzz/corpus/checkpoint/): the
/// checkpoints of a 2-episode run under the configuration the target checks against (kept in
/// sync with `checkpoint_seed_config` in fuzz/fuzz_targets/checkpoint.rs).
#[test]
#[ignore = "writes fuzz/corpus/checkpoint; run by hand when the checkpoint format changes"]
fn write_checkpoint_fuzz_seed_corpus() {
    let cfg = fuzz_checkpoint::checkpoint_seed_config();
    let data = Data::new();
    let out = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/checkpoint");
    std::fs::create_dir_all(&out).unwrap();
    let dir = temp_dir("corpus");
    let mut enn = EvaluationNet::new(&mut StdRng::seed_from_u64(1)).unwrap();
    let mut episode = 0;
    train_enn_resumable(
        &mut enn,
        &cfg,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(3),
        ckpt(Some(&dir), None),
        |_| {
            episode += 1;
        },
    )
    .unwrap();
    // Only the final checkpoint survives in `dir`; also keep one from before any Adam step.
    std::fs::copy(checkpoint_path(&dir), out.join("after_2_episodes")).unwrap();
    let first = EnnTrainingConfig {
        episodes: 1,
        ..cfg.clone()
    };
    let mut enn = EvaluationNet::new(&mut StdRng::seed_from_u64(1)).unwrap();
    train_enn_resumable(
        &mut enn,
        &first,
        &data.train,
        &data.val,
        &mut TrainRng::seed_from_u64(3),
        ckpt(Some(&dir), None),
        |_| {},
    )
    .unwrap();
    std::fs::copy(checkpoint_path(&dir), out.join("after_1_episode")).unwrap();
    assert_eq!(episode, 2);
    std::fs::remove_dir_all(&dir).unwrap();
}
