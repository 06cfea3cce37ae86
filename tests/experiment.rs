//! The experiment runner on a fixed subset of the shipped MNIST: a short run must beat a fixed
//! accuracy, runs are deterministic per seed, and a diverging run stops with a typed error.

use grad_instructor::data::{Dataset, Mnist};
use grad_instructor::instructor::experiment::{run_arm, Arm, TrainConfig};
use grad_instructor::instructor::EvaluationNet;
use grad_instructor::Error;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;

fn subset() -> (Dataset, Dataset) {
    let dir = Mnist::locate(Some(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/mnist"
    ))))
    .unwrap();
    let m = Mnist::load(&dir).unwrap();
    (m.train.take(5000), m.test.take(1000))
}

fn config() -> TrainConfig {
    TrainConfig {
        epochs: 2,
        lr: 0.1,
        batch: 32,
        ..TrainConfig::default()
    }
}

#[test]
fn short_bp_run_on_a_fixed_subset_beats_80_percent() {
    let (train, test) = subset();
    let r = run_arm(Arm::Bp, 0, &config(), &train, &test, None, |_, _| {}).unwrap();
    // 2 epochs over the first 5000 training images at lr 0.1: this configuration measured
    // 0.848 test accuracy on the first 1000 test images (seed 0, AVX-512 kernels); 0.80
    // leaves room for other ISAs' rounding while still failing for a broken gradient or loop
    // (an untrained net scores ~0.1).
    assert!(r.test_acc > 0.80, "test accuracy {}", r.test_acc);
    assert!(r.train_acc > 0.80, "train accuracy {}", r.train_acc);
    assert_eq!(r.steps, 2 * 5000usize.div_ceil(32));
}

#[test]
fn runs_are_deterministic_per_seed_for_every_arm() {
    let (train, test) = subset();
    let (train, test) = (train.take(1000), test.take(300));
    let enn = EvaluationNet::new(&mut StdRng::seed_from_u64(1)).unwrap();
    let cfg = TrainConfig {
        epochs: 1,
        ..config()
    };
    for arm in [Arm::Bp, Arm::L1, Arm::He, Arm::GradInstructor] {
        let a = run_arm(arm, 3, &cfg, &train, &test, Some(&enn), |_, _| {}).unwrap();
        let b = run_arm(arm, 3, &cfg, &train, &test, Some(&enn), |_, _| {}).unwrap();
        assert_eq!(
            a.mlp, b.mlp,
            "{arm:?}: weights differ between two runs of one seed"
        );
        assert_eq!((a.test_acc, a.train_acc), (b.test_acc, b.train_acc));
    }
    // bp, l1 and gi share the initial weights; he does not.
    let init = |arm| grad_instructor::instructor::experiment::initial_mlp(arm, 3, &cfg).unwrap();
    assert_eq!(init(Arm::Bp), init(Arm::GradInstructor));
    assert_ne!(init(Arm::Bp), init(Arm::He));
}

#[test]
fn diverging_run_stops_with_a_non_finite_error_naming_arm_and_step() {
    let (train, test) = subset();
    let cfg = TrainConfig {
        epochs: 1,
        lr: 1e30,
        ..config()
    };
    match run_arm(
        Arm::Bp,
        0,
        &cfg,
        &train.take(500),
        &test.take(100),
        None,
        |_, _| {},
    ) {
        Err(Error::NonFinite { run, step, .. }) => {
            assert!(run.contains("bp"), "{run}");
            assert!(step < 16, "diverged late: step {step}");
        }
        other => panic!("expected NonFinite, got {other:?}"),
    }
    assert!(
        run_arm(
            Arm::GradInstructor,
            0,
            &config(),
            &train,
            &test,
            None,
            |_, _| {}
        )
        .is_err(),
        "gi without an ENN"
    );
}
