//! What ENN training writes and reads back is checked, and what it trains is what the target
//! is: checksummed checkpoints and ENN files (a flipped bit anywhere is an error naming the
//! file), the data fingerprint on resume, finite weights on load, the RNG position, one
//! validation of the configuration, and episodes built with the target's architecture.

mod common;
// The fuzz target's checks, for the one definition of the seed corpus's configuration.
#[allow(dead_code)]
#[path = "../fuzz/checks/checkpoint.rs"]
mod fuzz_checkpoint;

use common::enn::{enn_data, fresh_enn, small_enn_config, DIM};
use common::temp_dir;
use grad_instructor::data::Dataset;
use grad_instructor::instructor::checkpoint::{self, checkpoint_path};
use grad_instructor::instructor::episode::initial_mlp;
use grad_instructor::instructor::*;
use grad_instructor::io::safetensors::{self, CHECKSUM_KEY};
use grad_instructor::nn::{Activation, Module};
use grad_instructor::{Error, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use std::path::{Path, PathBuf};

fn data() -> (Dataset, Dataset) {
    enn_data()
}

/// The shared small configuration, checkpointing after every episode.
fn config(rule: EnnRule, episodes: usize) -> EnnTrainingConfig {
    EnnTrainingConfig {
        checkpoint_every: 1,
        ..small_enn_config(rule, episodes)
    }
}

fn train(
    cfg: &EnnTrainingConfig,
    train: &Dataset,
    val: &Dataset,
    rng: &mut TrainRng,
    ckpt: Checkpoints<'_>,
) -> grad_instructor::Result<Vec<EpisodeLog>> {
    train_enn_resumable(&mut fresh_enn(), cfg, train, val, rng, ckpt, |_| {})
}

/// A checkpoint of a 2-episode value-rule run (Adam moments and a replay buffer present).
fn checkpoint_dir(name: &str) -> PathBuf {
    let (tr, val) = data();
    let dir = temp_dir(name);
    let ckpt = Checkpoints {
        save_to: Some(&dir),
        resume_from: None,
    };
    let cfg = config(EnnRule::Value, 2);
    train(&cfg, &tr, &val, &mut TrainRng::seed_from_u64(5), ckpt).unwrap();
    dir
}

/// Absolute byte range of tensor `name` in safetensors `bytes`.
fn tensor_bytes(bytes: &[u8], name: &str) -> (usize, usize) {
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    let header: serde_json::Value = serde_json::from_slice(&bytes[8..8 + n]).unwrap();
    let off = &header[name]["data_offsets"];
    let (b, e) = (off[0].as_u64().unwrap(), off[1].as_u64().unwrap());
    (8 + n + b as usize, 8 + n + e as usize)
}

fn assert_format_error_naming(r: grad_instructor::Result<impl std::fmt::Debug>, file: &Path) {
    match r {
        Err(e @ Error::Format { .. }) => {
            let msg = e.to_string();
            assert!(msg.contains(&file.display().to_string()), "{msg}");
            assert!(!msg.contains('\n'), "one line: {msg}");
        }
        other => panic!(
            "expected a format error naming {}, got {other:?}",
            file.display()
        ),
    }
}

// ---- The training generator ----

#[test]
fn train_rng_draws_the_std_rng_stream_and_restores_its_word_position() {
    for seed in [0u64, 1, 5, 0xE1A1, u64::MAX] {
        let mut a = TrainRng::seed_from_u64(seed);
        let mut b = StdRng::seed_from_u64(seed);
        for i in 0..3000 {
            // Mixed widths, so that u64 draws straddle the 64-word block boundaries.
            match i % 4 {
                0 => assert_eq!(a.next_u32(), b.next_u32()),
                1 => assert_eq!(a.next_u64(), b.next_u64()),
                2 => assert_eq!(a.gen_range(0..997usize), b.gen_range(0..997usize)),
                _ => assert_eq!(a.gen::<f64>().to_bits(), b.gen::<f64>().to_bits()),
            }
        }
    }
    // A generator moved to a recorded position continues the stream exactly.
    let mut a = TrainRng::seed_from_u64(9);
    for _ in 0..37 {
        a.next_u32();
    }
    let pos = a.get_word_pos();
    let ahead: Vec<u64> = (0..100).map(|_| a.next_u64()).collect();
    let mut b = TrainRng::seed_from_u64(9);
    b.set_word_pos(pos);
    assert_eq!(ahead, (0..100).map(|_| b.next_u64()).collect::<Vec<_>>());
}

#[test]
fn resume_with_an_rng_that_drew_differently_before_training_is_refused() {
    let (tr, val) = data();
    let dir = checkpoint_dir("rng-start");
    let cfg = config(EnnRule::Value, 3);
    let resume = Checkpoints {
        save_to: None,
        resume_from: Some(&dir),
    };
    let mut rng = TrainRng::seed_from_u64(5);
    rng.next_u32(); // one word more than the run that wrote the checkpoint
    let err = train(&cfg, &tr, &val, &mut rng, resume).unwrap_err();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(
        err.to_string().contains("started training at word"),
        "{err}"
    );
    let err = train(&cfg, &tr, &val, &mut TrainRng::seed_from_u64(6), resume).unwrap_err();
    assert!(err.to_string().contains("another seed"), "{err}");
    assert_eq!(
        train(&cfg, &tr, &val, &mut TrainRng::seed_from_u64(5), resume)
            .unwrap()
            .len(),
        3
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Checkpoint integrity ----

#[test]
fn checkpoint_with_any_flipped_bit_is_a_format_error_naming_the_file() {
    let dir = checkpoint_dir("flip");
    let path = checkpoint_path(&dir);
    let bytes = std::fs::read(&path).unwrap();
    let cfg = config(EnnRule::Value, 2);
    let enn = fresh_enn();
    assert!(checkpoint::from_bytes(&bytes, &path, &cfg, &enn).is_ok());
    let flipped = |at: usize, bit: u8| {
        let mut b = bytes.clone();
        b[at] ^= 1 << bit;
        checkpoint::from_bytes(&b, &path, &cfg, &enn)
    };
    // Every byte of the length field and the header (metadata: format, state, checksum;
    // tensor names, shapes, offsets), one bit each.
    let n = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
    for at in 0..8 + n {
        assert_format_error_naming(flipped(at, (at % 8) as u8), &path);
    }
    // Every fourth byte of the data section, cycling through the bits.
    for at in (8 + n..bytes.len()).step_by(4) {
        assert_format_error_naming(flipped(at, (at / 4 % 8) as u8), &path);
    }
    // The flips the issue names: a mantissa and an exponent bit of an ENN weight and of a
    // replay reward (f32 little-endian: bit 0 of byte 0 is the mantissa's lowest, bit 6 of
    // byte 3 the exponent's highest but one).
    for name in ["enn.fc2.bias", "enn.conv1.weight", "replay.rewards"] {
        let (begin, _) = tensor_bytes(&bytes, name);
        assert_format_error_naming(flipped(begin, 0), &path);
        assert_format_error_naming(flipped(begin + 3, 6), &path);
    }
    // Through the resume path too: never a silent resume, never a training error.
    let (begin, _) = tensor_bytes(&bytes, "replay.rewards");
    let mut b = bytes.clone();
    b[begin + 3] ^= 1 << 6;
    std::fs::write(&path, &b).unwrap();
    let (tr, val) = data();
    let resume = Checkpoints {
        save_to: None,
        resume_from: Some(&dir),
    };
    let longer = config(EnnRule::Value, 3);
    let r = train(&longer, &tr, &val, &mut TrainRng::seed_from_u64(5), resume);
    assert_format_error_naming(r, &path);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn checkpoint_from_another_configuration_names_the_differing_field() {
    let dir = checkpoint_dir("config");
    let path = checkpoint_path(&dir);
    let enn = fresh_enn();
    let other = EnnTrainingConfig {
        enn_lr: 0.5,
        ..config(EnnRule::Value, 2)
    };
    let err = checkpoint::load(&dir, &other, &enn).unwrap_err();
    let msg = err.to_string();
    assert!(msg.contains("another configuration"), "{msg}");
    assert!(msg.contains("enn_lr: 0.001"), "{msg}");
    assert!(!msg.contains("tau"), "only the differing field: {msg}");
    assert_format_error_naming(Err::<(), _>(err), &path);
    // episodes and checkpoint_every may change.
    let longer = EnnTrainingConfig {
        episodes: 9,
        checkpoint_every: 4,
        ..config(EnnRule::Value, 2)
    };
    assert!(checkpoint::load(&dir, &longer, &enn).is_ok());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn resume_on_another_data_set_is_refused() {
    let (tr, val) = data();
    let dir = checkpoint_dir("data");
    let cfg = config(EnnRule::Value, 3);
    let resume = Checkpoints {
        save_to: None,
        resume_from: Some(&dir),
    };
    let mut other_train = tr.clone();
    other_train.images[17] += 0.5; // one pixel
    let mut other_val = val.clone();
    other_val.labels.swap(0, 1);
    for (t, v, which) in [
        (&other_train, &val, "another training set"),
        (&tr, &other_val, "another validation set"),
        (&tr.take(150), &val, "another training set"),
    ] {
        let err = train(&cfg, t, v, &mut TrainRng::seed_from_u64(5), resume).unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains(which), "{err}");
        assert!(err.to_string().contains("CRC-32"), "{err}");
    }
    let same = train(&cfg, &tr, &val, &mut TrainRng::seed_from_u64(5), resume).unwrap();
    assert_eq!(same.len(), 3);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn dataset_fingerprint_sees_every_pixel_label_and_the_width() {
    let (tr, _) = data();
    let f = tr.fingerprint();
    assert_eq!((f.examples, f.dim), (200, DIM));
    assert_eq!(f, tr.clone().fingerprint());
    let mut a = tr.clone();
    a.images[tr.images.len() - 1] = f32::from_bits(a.images[tr.images.len() - 1].to_bits() ^ 1);
    let mut b = tr.clone();
    b.labels[199] ^= 1;
    let c = Dataset {
        dim: 20,
        ..tr.clone()
    };
    for other in [a, b, c] {
        assert_ne!(other.fingerprint().crc32, f.crc32);
    }
}

// ---- ENN weights files ----

#[test]
fn enn_file_with_a_flipped_bit_a_nan_weight_or_no_checksum_is_an_error_naming_the_file() {
    let dir = temp_dir("enn-file");
    let path = dir.join("enn.safetensors");
    let mut e = fresh_enn();
    e.image.mode = ImageMode::Area;
    e.save(&path, &[("seed", "72")]).unwrap();
    assert_eq!(
        EvaluationNet::load(&path).unwrap(),
        e,
        "round trip, image included"
    );
    let good = std::fs::read(&path).unwrap();
    let (begin, _) = tensor_bytes(&good, "fc2.bias");
    for (at, bit) in [(begin, 0u8), (begin + 3, 6), (9, 1), (good.len() - 1, 7)] {
        let mut b = good.clone();
        b[at] ^= 1 << bit;
        std::fs::write(&path, &b).unwrap();
        assert_format_error_naming(EvaluationNet::load(&path), &path);
    }
    // A NaN bias in a well-formed, checksummed file: refused on load.
    let mut nan = e.clone();
    nan.fc2.bias.data_mut()[0] = f32::NAN;
    let named = nan.named_params();
    let tensors: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    safetensors::save_checked(&path, &tensors, &[]).unwrap();
    assert_format_error_naming(EvaluationNet::load(&path), &path);
    assert!(
        EvaluationNet::load(&path)
            .unwrap_err()
            .to_string()
            .contains("fc2.bias"),
        "names the tensor"
    );
    // ... and never written.
    assert!(matches!(
        nan.save(&dir.join("nan.safetensors"), &[]),
        Err(Error::InvalidArgument { .. })
    ));
    // A file without a checksum (e.g. a damaged key) is not trusted.
    safetensors::save(&path, &tensors, &[]).unwrap();
    let err = EvaluationNet::load(&path).unwrap_err();
    assert!(err.to_string().contains(CHECKSUM_KEY), "{err}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn safetensors_checksum_covers_metadata_names_shapes_and_data() {
    let a = Tensor::from_vec(vec![1.0, -2.0, 3.5, 0.0], &[2, 2]).unwrap();
    let b = Tensor::from_vec(vec![7.0], &[1]).unwrap();
    let base = safetensors::content_crc32(&[("a", &a), ("b", &b)], &[("k", "v")]);
    // Order-independent, and the checksum key itself is not part of the content.
    assert_eq!(
        base,
        safetensors::content_crc32(&[("b", &b), ("a", &a)], &[(CHECKSUM_KEY, "x"), ("k", "v")])
    );
    let a_t = Tensor::from_vec(a.data().to_vec(), &[4]).unwrap();
    for other in [
        safetensors::content_crc32(&[("a", &a), ("c", &b)], &[("k", "v")]),
        safetensors::content_crc32(&[("a", &a_t), ("b", &b)], &[("k", "v")]),
        safetensors::content_crc32(&[("a", &a), ("b", &a)], &[("k", "v")]),
        safetensors::content_crc32(&[("a", &a), ("b", &b)], &[("k", "w")]),
        safetensors::content_crc32(&[("a", &a), ("b", &b)], &[("kv", "")]),
    ] {
        assert_ne!(other, base);
    }
    let bytes = safetensors::to_bytes_checked(&[("a", &a)], &[("k", "v")]).unwrap();
    let origin = Path::new("mem");
    let w = safetensors::from_bytes_checked(&bytes, origin).unwrap();
    assert_eq!(w.get("a").unwrap(), &a);
    assert!(safetensors::to_bytes_checked(&[("a", &a)], &[(CHECKSUM_KEY, "0")]).is_err());
    // A damaged data byte: every reader refuses it; the unverified parser (for tools) does not.
    let mut bad = bytes.clone();
    let last = bad.len() - 1;
    bad[last] ^= 0x80;
    assert!(matches!(
        safetensors::from_bytes(&bad, origin),
        Err(Error::Format { .. })
    ));
    assert!(safetensors::from_bytes_unverified(&bad, origin).is_ok());
}

// ---- The configuration and the episode's architecture ----

#[test]
fn config_validate_names_the_offending_field() {
    let base = config(EnnRule::Reinforce, 2);
    assert!(base.validate().is_ok());
    let cases: Vec<(EnnTrainingConfig, &str)> = vec![
        (
            EnnTrainingConfig {
                episodes: 0,
                ..base.clone()
            },
            "episodes",
        ),
        (
            EnnTrainingConfig {
                batch: 0,
                ..base.clone()
            },
            "batch",
        ),
        (
            EnnTrainingConfig {
                hidden: vec![],
                ..base.clone()
            },
            "hidden",
        ),
        (
            EnnTrainingConfig {
                hidden: vec![20, 0],
                ..base.clone()
            },
            "hidden",
        ),
        (
            EnnTrainingConfig {
                tau: f32::INFINITY,
                ..base.clone()
            },
            "tau",
        ),
        (
            EnnTrainingConfig {
                enn_lr: 0.0,
                ..base.clone()
            },
            "enn_lr",
        ),
        (
            EnnTrainingConfig {
                lr_multipliers: vec![1.0, f32::NAN],
                ..base.clone()
            },
            "lr_multipliers",
        ),
        (
            EnnTrainingConfig {
                init_scale_range: (2.0, 1.0),
                ..base.clone()
            },
            "init_scale_range",
        ),
        (
            EnnTrainingConfig {
                decide_every: 0,
                ..base.clone()
            },
            "decide_every",
        ),
        (
            EnnTrainingConfig {
                lr_multipliers: vec![1.0],
                ..base.clone()
            },
            "lr_multipliers",
        ),
        (
            EnnTrainingConfig {
                universal: UniversalConfig {
                    le: f32::NAN,
                    ..base.universal
                },
                ..base.clone()
            },
            "universal.le",
        ),
        (
            EnnTrainingConfig {
                universal: UniversalConfig {
                    l1: -1.0,
                    ..base.universal
                },
                ..base.clone()
            },
            "universal.l1",
        ),
        (
            EnnTrainingConfig {
                universal: UniversalConfig {
                    lr: 1e39f64 as f32,
                    ..base.universal
                },
                ..base.clone()
            },
            "universal.lr",
        ),
        (
            EnnTrainingConfig {
                rule: EnnRule::Value,
                value: ValueConfig {
                    record_every: 0,
                    ..base.value
                },
                ..base.clone()
            },
            "value.record_every",
        ),
    ];
    for (cfg, field) in cases {
        let err = cfg.validate().unwrap_err();
        assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
        assert!(err.to_string().contains(field), "{field}: {err}");
    }
    // The value rule learns without decisions.
    let no_decisions = EnnTrainingConfig {
        rule: EnnRule::Value,
        decide_every: 0,
        ..base
    };
    assert!(no_decisions.validate().is_ok());
}

#[test]
fn episode_mlp_has_the_targets_hidden_widths_and_activation() {
    let cfg = EnnTrainingConfig {
        hidden: vec![20, 7],
        activation: Activation::Tanh,
        ..config(EnnRule::Value, 2)
    };
    let (s, mlp) = initial_mlp(&cfg, DIM, 3, &mut StdRng::seed_from_u64(1)).unwrap();
    let shapes: Vec<&[usize]> = mlp.layers.iter().map(|l| l.weight.dims()).collect();
    assert_eq!(shapes, vec![&[20, 40][..], &[7, 20], &[3, 7]]);
    assert_eq!(mlp.activation, Activation::Tanh);
    assert!((0.5..3.0).contains(&s));
    // The default stays 784-100-10 ReLU (the default run's numbers are unchanged).
    let d = EnnTrainingConfig::default();
    let (_, mlp) = initial_mlp(&d, 784, 10, &mut StdRng::seed_from_u64(1)).unwrap();
    let shapes: Vec<&[usize]> = mlp.layers.iter().map(|l| l.weight.dims()).collect();
    assert_eq!(shapes, vec![&[100, 784][..], &[10, 100]]);
    assert_eq!(mlp.activation, Activation::Relu);
    // And training sees it: the architecture and the activation change the episodes.
    let (tr, val) = data();
    let rewards = |cfg: &EnnTrainingConfig| -> Vec<u32> {
        let mut rng = TrainRng::seed_from_u64(5);
        let logs = train_enn(&mut fresh_enn(), cfg, &tr, &val, &mut rng, |_| {}).unwrap();
        logs.iter().map(|l| l.mlp_loss.to_bits()).collect()
    };
    let one = config(EnnRule::Value, 2);
    let two = EnnTrainingConfig {
        hidden: vec![20, 7],
        ..one.clone()
    };
    let tanh = EnnTrainingConfig {
        activation: Activation::Tanh,
        ..one.clone()
    };
    assert_ne!(rewards(&one), rewards(&two));
    assert_ne!(rewards(&one), rewards(&tanh));
}

#[test]
fn an_episode_w1_the_enn_image_cannot_read_is_a_clear_error() {
    let (tr, val) = data();
    let cfg = EnnTrainingConfig {
        hidden: vec![13, 50],
        ..config(EnnRule::Value, 1)
    };
    let mut rng = TrainRng::seed_from_u64(5);
    let err = train_enn(&mut fresh_enn(), &cfg, &tr, &val, &mut rng, |_| {}).unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, Error::InvalidArgument { .. }), "{err:?}");
    assert!(msg.contains("13 x 40") && msg.contains(">= 14"), "{msg}");
    let ok = EnnTrainingConfig {
        hidden: vec![14],
        ..cfg
    };
    assert!(train_enn(&mut fresh_enn(), &ok, &tr, &val, &mut rng, |_| {}).is_ok());
    // Image settings that do not fit W1 (a mask made for 784 inputs) are refused up front.
    let mut masked = fresh_enn();
    masked.image.inert = Some(InertColumns {
        threshold: 1e-3,
        n_inputs: 784,
        columns: vec![0, 1],
    });
    let err = train_enn(&mut masked, &ok, &tr, &val, &mut rng, |_| {}).unwrap_err();
    assert!(
        err.to_string().contains("image settings do not fit"),
        "{err}"
    );
}

/// The `checkpoint` fuzz target's seed corpus must be real, current checkpoints (so that
/// mutations start past the checksum and the format checks): each parses under the corpus's
/// configuration (`checkpoint_seed_config` in fuzz/fuzz_targets/checkpoint.rs; regenerate
/// with `cargo test --release --test robustness -- --ignored write_checkpoint_fuzz_seed_corpus`
/// when the format changes).
#[test]
fn checkpoint_fuzz_corpus_parses_under_its_configuration() {
    let cfg = fuzz_checkpoint::checkpoint_seed_config();
    let enn = EvaluationNet::new(&mut StdRng::seed_from_u64(1)).unwrap();
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus/checkpoint");
    for (name, episodes) in [("after_1_episode", 1), ("after_2_episodes", 2)] {
        let path = dir.join(name);
        let bytes = std::fs::read(&path).unwrap();
        let state = checkpoint::from_bytes(&bytes, &path, &cfg, &enn)
            .unwrap_or_else(|e| panic!("stale fuzz corpus: {e}"));
        assert_eq!(state.next_episode, episodes);
    }
}
