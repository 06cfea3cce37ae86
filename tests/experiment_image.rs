//! The ENN's image configuration through the experiment: the config's mode and inert mask
//! reach the trained ENN and its weights file, a loaded ENN trained on another image is a
//! usage error (it used to run silently on the default image), and the run reports coverage.

mod common;

use common::temp_dir;
use grad_instructor::data::{Dataset, Mnist};
use grad_instructor::experiment::enn::{enn_split, train_one_enn};
use grad_instructor::experiment::{run, ExperimentConfig, Preset, RunError, Silent};
use grad_instructor::instructor::{EvaluationNet, ImageMode, WeightImageConfig};
use grad_instructor::Error;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::{Path, PathBuf};

fn mnist_dir() -> PathBuf {
    Mnist::locate(Some(Path::new(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/data/mnist"
    ))))
    .unwrap()
}

/// A quick run on few images, no prediction study, one lottery MLP.
fn small_config() -> ExperimentConfig {
    let mut c = ExperimentConfig::preset(Preset::Quick);
    c.data.dir = Some(mnist_dir());
    c.data.train_limit = Some(2000);
    c.data.test_limit = Some(500);
    c.enn.episodes = 2;
    c.enn.steps_per_episode = 20;
    c.enn.decide_every = 10;
    c.predict.enns = 0;
    c.explain.lottery_percents = vec![50.0];
    c.explain.lottery_mlps = 2;
    c.explain.finetune_steps = 5;
    c.jobs = 1;
    c
}

#[test]
fn image_config_masks_the_columns_that_never_vary_in_the_training_data() {
    // 3 pixels: the first constant, the second varying, the third almost constant.
    let train = Dataset {
        images: vec![0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.5, 0.01],
        labels: vec![0, 1, 2],
        dim: 3,
    };
    let mut c = ExperimentConfig::preset(Preset::Default);
    assert_eq!(
        c.image_config(&train).unwrap(),
        WeightImageConfig::default()
    );
    c.enn.image_mode = ImageMode::Area;
    c.enn.mask_inert = true;
    let img = c.image_config(&train).unwrap();
    assert_eq!(img.mode, ImageMode::Area);
    assert_eq!(img.inert.unwrap().columns, vec![0, 2]);
}

#[test]
fn a_trained_enn_carries_the_runs_image_into_its_file() {
    let m = Mnist::load(&mnist_dir()).unwrap();
    let train = m.train.take(1000);
    let mut c = small_config();
    c.enn.image_mode = ImageMode::Area;
    c.enn.mask_inert = true;
    let image = c.image_config(&train).unwrap();
    let split = enn_split(&train, 0, 200).unwrap();
    let (enn, _) = train_one_enn(&c.reinforce_config(), &image, &split, 3, "t", &Silent).unwrap();
    assert_eq!(enn.image, image);
    let dir = temp_dir("carry");
    let path = dir.join("enn.safetensors");
    enn.save(&path, &[]).unwrap();
    assert_eq!(EvaluationNet::load(&path).unwrap().image, image);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn loading_an_enn_trained_on_another_image_is_a_usage_error_and_a_match_runs() {
    let dir = temp_dir("mismatch");
    let path = dir.join("enn.safetensors");
    let mut enn = EvaluationNet::new(&mut StdRng::seed_from_u64(1)).unwrap();
    enn.image = WeightImageConfig::with_mode(ImageMode::Area);
    enn.save(&path, &[]).unwrap();
    let mut c = small_config();
    c.enn.load = Some(path.clone());
    // The run asks for the default (bilinear) image: before the image was recorded, this
    // loaded the ENN as bilinear and ran without a word.
    let r = run(&c, &dir.join("out1"), None, &Silent);
    assert!(
        matches!(r, Err(RunError::Failed(Error::Usage(ref m))) if m.contains("area")),
        "{:?}",
        r.err()
    );
    c.enn.image_mode = ImageMode::Area;
    let o = run(&c, &dir.join("out2"), None, &Silent).unwrap();
    assert_eq!(o.coverage.len(), 1);
    let cov = &o.coverage[0];
    assert_eq!(cov.image, "area");
    // The area image reaches (almost) every entry of W1; the bilinear one at most 8.95%.
    assert!(cov.summary.reached_fraction > 0.99, "{cov:?}");
    assert!(cov.summary.inert_share > 0.0 && cov.summary.inert_share < 1.0);
    let e = o.explained.as_ref().unwrap();
    assert_eq!(e.lottery.seeds.len(), 2);
    std::fs::remove_dir_all(dir).unwrap();
}
