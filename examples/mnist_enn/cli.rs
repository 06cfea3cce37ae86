//! Command-line flags of `mnist_enn`.

use grad_instructor::instructor::experiment::{Arm, TrainConfig};
use grad_instructor::instructor::{EnnRule, EnnTrainingConfig};
use grad_instructor::nn::Activation;
use std::path::PathBuf;

pub const HELP: &str = "\
mnist_enn: reproduce the Grad-Instructor comparison (arXiv 2406.10559) on MNIST

USAGE: cargo run --release --example mnist_enn -- [FLAGS]
       cargo run --release --example mnist_enn -- --merge DIR,DIR,... [--out DIR]

Defaults are our reconstruction; the paper (abstract only) does not state them.

Target MLP and arms:
  --seeds N            seeds per arm [10]
  --seed-start S       first seed [0]
  --shard I/N          run only the (arm, seed) pairs with index % N == I [0/1]
  --epochs N           passes over the training set [3]
  --lr X               SGD learning rate [0.01]
  --batch N            mini-batch size [64]
  --hidden LIST        hidden widths, comma-separated [100]
  --activation A       relu | sigmoid | tanh [relu]
  --arms LIST          subset of bp,l1,he,gi [bp,l1,he,gi]
  --l1 X               L1 strength of the l1 arm [1e-4]
  --le X               ENN term weight of universal backprop [see instructor::DEFAULT_LE]
ENN training (REINFORCE by default):
  --enn PATH           reuse a trained ENN (safetensors) instead of training one
  --enn-rule R         reinforce | value
  --episodes N         ENN training episodes
  --episode-steps N    MLP steps per episode
  --decide-every N     steps between decisions
  --tau X              policy temperature
  --enn-seed S         seed of ENN init and episodes [0]
  --checkpoint-every N write OUT/enn_checkpoint/ every N episodes and at the end [10]
  --resume DIR         continue ENN training from DIR/enn_checkpoint/ (same flags as the
                       interrupted run; --out defaults to DIR)
Analysis and output:
  --no-explain         skip Grad-CAM pictures and the lottery test
  --predict-enn M      train M more ENNs and test which statistic predicts the best one [4]
  --predict-episodes N episodes per predicted ENN [a quarter of --episodes]
  --predict-seeds N    seeds per predicted ENN's downstream runs [2]
  --data DIR           MNIST directory [data/mnist, or $GI_MNIST_DIR]
  --out DIR            output folder [runs/<timestamp>]
  --jobs N             runs trained in parallel [available cores]
  --quick              smoke run: small subsets, 1 epoch, 2 seeds, short ENN training
  --merge LIST         combine the runs.csv of several output folders into one report
  -h, --help           this text
";

pub struct Args {
    pub seeds: u64,
    pub seed_start: u64,
    pub shard: (u64, u64),
    pub cfg: TrainConfig,
    pub arms: Vec<Arm>,
    pub enn_path: Option<PathBuf>,
    pub enn: EnnTrainingConfig,
    pub enn_seed: u64,
    pub resume: Option<PathBuf>,
    pub explain: bool,
    pub predict_enn: usize,
    pub predict_episodes: usize,
    pub predict_seeds: u64,
    pub data: Option<PathBuf>,
    pub out: Option<PathBuf>,
    pub jobs: usize,
    pub quick: bool,
    pub merge: Vec<PathBuf>,
}

type AnyError = Box<dyn std::error::Error>;

impl Args {
    /// One line describing the target-network configuration, for logs and the report.
    pub fn describe(&self) -> String {
        format!(
            "MLP {:?}, {} epochs, lr {}, batch {}, seeds {}..{} (shard {}/{})",
            self.cfg.sizes,
            self.cfg.epochs,
            self.cfg.lr,
            self.cfg.batch,
            self.seed_start,
            self.seed_start + self.seeds,
            self.shard.0,
            self.shard.1
        )
    }
}

fn list<T>(s: &str, f: impl Fn(&str) -> Result<T, AnyError>) -> Result<Vec<T>, AnyError> {
    s.split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| f(p.trim()))
        .collect()
}

/// Parses the command line; `Ok(None)` after printing `--help`.
pub fn parse() -> Result<Option<Args>, AnyError> {
    use lexopt::prelude::*;
    let mut a = Args {
        seeds: 10,
        seed_start: 0,
        shard: (0, 1),
        cfg: TrainConfig::default(),
        arms: vec![Arm::Bp, Arm::L1, Arm::He, Arm::GradInstructor],
        enn_path: None,
        enn: EnnTrainingConfig::default(),
        enn_seed: 0,
        resume: None,
        explain: true,
        predict_enn: 4,
        predict_episodes: 0,
        predict_seeds: 2,
        data: None,
        out: None,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        quick: false,
        merge: Vec::new(),
    };
    let (mut seeds, mut epochs, mut episodes, mut episode_steps) = (None, None, None, None);
    let mut predict_episodes = None;
    let mut hidden = vec![100usize];
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("seeds") => seeds = Some(p.value()?.parse()?),
            Long("seed-start") => a.seed_start = p.value()?.parse()?,
            Long("shard") => {
                let v = p.value()?.string()?;
                let (i, n) = v.split_once('/').ok_or("--shard takes I/N, e.g. 0/4")?;
                a.shard = (i.parse()?, n.parse()?);
                if a.shard.1 == 0 || a.shard.0 >= a.shard.1 {
                    return Err(format!("--shard {v}: need 0 <= I < N").into());
                }
            }
            Long("epochs") => epochs = Some(p.value()?.parse()?),
            Long("lr") => a.cfg.lr = p.value()?.parse()?,
            Long("batch") => a.cfg.batch = p.value()?.parse()?,
            Long("hidden") => hidden = list(&p.value()?.string()?, |s| Ok(s.parse()?))?,
            Long("activation") => a.cfg.activation = Activation::parse(&p.value()?.string()?)?,
            Long("arms") => a.arms = list(&p.value()?.string()?, |s| Ok(Arm::parse(s)?))?,
            Long("l1") => a.cfg.l1_lambda = p.value()?.parse()?,
            Long("le") => a.cfg.le = p.value()?.parse()?,
            Long("enn") => a.enn_path = Some(p.value()?.into()),
            Long("enn-rule") => a.enn.rule = EnnRule::parse(&p.value()?.string()?)?,
            Long("episodes") => episodes = Some(p.value()?.parse()?),
            Long("episode-steps") => episode_steps = Some(p.value()?.parse()?),
            Long("decide-every") => a.enn.decide_every = p.value()?.parse()?,
            Long("tau") => a.enn.tau = p.value()?.parse()?,
            Long("enn-seed") => a.enn_seed = p.value()?.parse()?,
            Long("checkpoint-every") => a.enn.checkpoint_every = p.value()?.parse()?,
            Long("resume") => a.resume = Some(p.value()?.into()),
            Long("no-explain") => a.explain = false,
            Long("predict-enn") => a.predict_enn = p.value()?.parse()?,
            Long("predict-episodes") => predict_episodes = Some(p.value()?.parse()?),
            Long("predict-seeds") => a.predict_seeds = p.value()?.parse()?,
            Long("data") => a.data = Some(p.value()?.into()),
            Long("out") => a.out = Some(p.value()?.into()),
            Long("jobs") => a.jobs = p.value()?.parse::<usize>()?.max(1),
            Long("quick") => a.quick = true,
            Long("merge") => a.merge = list(&p.value()?.string()?, |s| Ok(PathBuf::from(s)))?,
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(None);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    a.seeds = seeds.unwrap_or(if a.quick { 2 } else { 10 });
    a.cfg.epochs = epochs.unwrap_or(if a.quick { 1 } else { 3 });
    if a.quick {
        a.enn.episodes = 4;
        a.enn.steps_per_episode = 60;
        a.enn.decide_every = a.enn.decide_every.min(20);
        a.enn.val_limit = 1000;
    }
    if let Some(e) = episodes {
        a.enn.episodes = e;
    }
    if let Some(s) = episode_steps {
        a.enn.steps_per_episode = s;
    }
    if a.quick {
        a.predict_enn = a.predict_enn.min(2);
        a.predict_seeds = 1;
    }
    a.predict_episodes = predict_episodes.unwrap_or((a.enn.episodes / 4).max(2));
    a.enn.batch = a.cfg.batch;
    a.enn.universal.lr = a.cfg.lr;
    a.enn.universal.le = a.cfg.le;
    // ENN episodes train the target's architecture (issue 12).
    a.enn.hidden = hidden.clone();
    a.enn.activation = a.cfg.activation;
    let lr_ok = a.cfg.lr.is_finite() && a.cfg.lr > 0.0;
    if a.seeds == 0
        || a.cfg.epochs == 0
        || a.cfg.batch == 0
        || hidden.is_empty()
        || hidden.contains(&0)
        || !lr_ok
    {
        return Err("--seeds, --epochs, --batch, --hidden and --lr must be positive".into());
    }
    if a.resume.is_some() && a.enn_path.is_some() {
        return Err("--resume continues ENN training; it cannot be combined with --enn".into());
    }
    if a.out.is_none() {
        a.out = a.resume.clone();
    }
    if a.arms.is_empty() {
        return Err("--arms must name at least one of bp, l1, he, gi".into());
    }
    a.cfg.sizes = std::iter::once(784)
        .chain(hidden)
        .chain(std::iter::once(10))
        .collect();
    Ok(Some(a))
}
