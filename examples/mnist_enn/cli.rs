//! Command-line flags of `mnist_enn` and how they map onto `ExperimentConfig`.
//!
//! Every default lives in the library's presets (`ExperimentConfig::preset`); a flag left out
//! keeps the preset's value, and the help text shows it, so each default is written once.

use clap::{Args, Parser};
use grad_instructor::experiment::config::Shard;
use grad_instructor::experiment::{Arm, ExperimentConfig, Preset};
use grad_instructor::instructor::{EnnRule, ImageMode};
use grad_instructor::nn::Activation;
use std::fmt::Debug;
use std::path::PathBuf;

/// `"<what> [default: <default preset's value>; quick: <quick preset's value>]"`.
fn dflt<T: Debug + PartialEq>(what: &str, f: impl Fn(&ExperimentConfig) -> T) -> String {
    let (d, q) = (
        f(&ExperimentConfig::preset(Preset::Default)),
        f(&ExperimentConfig::preset(Preset::Quick)),
    );
    if d == q {
        format!("{what} [default: {d:?}]")
    } else {
        format!("{what} [default: {d:?}; --quick: {q:?}]")
    }
}

const ABOUT: &str = "Reproduce the Grad-Instructor comparison (arXiv 2406.10559) on MNIST. \
Defaults are our reconstruction; the paper (abstract only) does not state them.";

const AFTER: &str = "Merge shards with: mnist_enn --merge DIR,DIR,... [--out DIR]";

/// The command line. Numbers may be negative at parse time (`--le -0.01` is legal, `--seeds
/// -1` gets a message naming the flag); ranges are the library's `ExperimentConfig::validate`.
#[derive(Parser, Debug)]
#[command(name = "mnist_enn", about = ABOUT, after_help = AFTER, allow_negative_numbers = true)]
pub struct Cli {
    #[command(flatten)]
    pub mlp: MlpArgs,
    #[command(flatten)]
    pub enn: EnnArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

/// Flags of the target MLP and the arms that train it.
#[derive(Args, Debug)]
#[command(next_help_heading = "Target MLP and arms")]
pub struct MlpArgs {
    #[arg(long, value_name = "N", help = dflt("seeds per arm", |c| c.seeds))]
    pub seeds: Option<u64>,
    #[arg(long, value_name = "S", help = dflt("first seed", |c| c.seed_start))]
    pub seed_start: Option<u64>,
    #[arg(long, value_name = "I/N", value_parser = parse_shard, allow_hyphen_values = true,
          help = "run only the (arm, seed) pairs with index % N == I [default: 0/1]")]
    pub shard: Option<Shard>,
    #[arg(long, value_name = "N", help = dflt("passes over the training set", |c| c.mlp.epochs))]
    pub epochs: Option<usize>,
    #[arg(long, value_name = "X", help = dflt("SGD learning rate", |c| c.mlp.lr))]
    pub lr: Option<f32>,
    #[arg(long, value_name = "N", help = dflt("mini-batch size", |c| c.mlp.batch))]
    pub batch: Option<usize>,
    #[arg(long, value_name = "LIST", value_parser = parse_hidden,
          help = dflt("hidden widths, comma-separated", |c| c.mlp.hidden.clone()))]
    pub hidden: Option<Widths>,
    #[arg(long, value_name = "A", value_parser = parse_activation,
          help = "relu | sigmoid | tanh | identity [default: relu]")]
    pub activation: Option<Activation>,
    #[arg(long, value_name = "LIST", value_delimiter = ',', value_parser = parse_arm,
          help = "subset of bp,l1,he,gi [default: bp,l1,he,gi]")]
    pub arms: Option<Vec<Arm>>,
    #[arg(long, value_name = "X", help = dflt("L1 strength of the l1 arm", |c| c.mlp.l1))]
    pub l1: Option<f32>,
    #[arg(long, value_name = "X", allow_negative_numbers = true,
          help = dflt("ENN term weight λ_E of universal backprop", |c| c.mlp.le))]
    pub le: Option<f32>,
}

/// Flags of ENN training (or loading).
#[derive(Args, Debug)]
#[command(next_help_heading = "ENN training (the value rule by default)")]
pub struct EnnArgs {
    #[arg(
        long = "enn",
        value_name = "PATH",
        conflicts_with = "resume",
        help = "reuse a trained ENN (safetensors) instead of training one"
    )]
    pub enn_path: Option<PathBuf>,
    #[arg(long, value_name = "R", value_parser = parse_rule,
          help = "reinforce | value [default: value]")]
    pub enn_rule: Option<EnnRule>,
    #[arg(long, value_name = "N", help = dflt("ENN training episodes", |c| c.enn.episodes))]
    pub episodes: Option<usize>,
    #[arg(long, value_name = "N", help = dflt("MLP steps per episode", |c| c.enn.steps_per_episode))]
    pub episode_steps: Option<usize>,
    #[arg(long, value_name = "N", help = dflt("steps between decisions", |c| c.enn.decide_every))]
    pub decide_every: Option<usize>,
    #[arg(long, value_name = "X", help = dflt("policy temperature", |c| c.enn.tau))]
    pub tau: Option<f32>,
    #[arg(long, value_name = "S", help = dflt("seed of ENN init and episodes", |c| c.enn.seed))]
    pub enn_seed: Option<u64>,
    #[arg(long, value_name = "N",
          help = dflt("write the ENN checkpoint (OUT.partial/enn_checkpoint/ until the run finishes) every N episodes and at the end", |c| c.enn.checkpoint_every))]
    pub checkpoint_every: Option<usize>,
    #[arg(long, value_name = "MODE", value_parser = parse_image_mode,
          help = dflt("how the ENN's image reads W1: bilinear (PyTorch's default; 9% of W1) | area (every entry) | block-bilinear", |c| c.enn.image_mode.name()))]
    pub image_mode: Option<ImageMode>,
    #[arg(
        long,
        help = "zero W1's inert input columns (pixel variance over the training set < 1e-3) before the resize"
    )]
    pub mask_inert: bool,
    #[arg(
        long,
        value_name = "DIR",
        help = "continue ENN training from DIR.partial/enn_checkpoint/ (an interrupted run) or DIR/enn_checkpoint/ (same flags as the interrupted run; --out defaults to DIR)"
    )]
    pub resume: Option<PathBuf>,
}

/// Flags of the analyses, the data and the output folder.
#[derive(Args, Debug)]
#[command(next_help_heading = "Analysis and output")]
pub struct OutputArgs {
    #[arg(long, help = "skip Grad-CAM pictures and the lottery test")]
    pub no_explain: bool,
    #[arg(long, value_name = "N",
          help = dflt("untrained MLPs (seeds) of the lottery-ticket study", |c| c.explain.lottery_mlps))]
    pub lottery_mlps: Option<u64>,
    #[arg(long, value_name = "M",
          help = dflt("train M more ENNs and test which statistic predicts the best one", |c| c.predict.enns))]
    pub predict_enn: Option<usize>,
    #[arg(
        long,
        value_name = "N",
        help = "episodes per predicted ENN [default: a quarter of --episodes, at least 2]"
    )]
    pub predict_episodes: Option<usize>,
    #[arg(long, value_name = "N",
          help = dflt("seeds per predicted ENN's downstream runs", |c| c.predict.seeds))]
    pub predict_seeds: Option<u64>,
    #[arg(
        long,
        value_name = "DIR",
        help = "MNIST directory [default: data/mnist, or $GI_MNIST_DIR]"
    )]
    pub data: Option<PathBuf>,
    #[arg(
        long,
        value_name = "DIR",
        help = "output folder, written as DIR.partial and renamed to DIR when the run has finished [default: runs/<timestamp>]"
    )]
    pub out: Option<PathBuf>,
    #[arg(
        long,
        value_name = "N",
        help = "runs trained in parallel [default: available cores]"
    )]
    pub jobs: Option<usize>,
    #[arg(
        long,
        value_name = "SIZE",
        value_parser = grad_instructor::experiment::budget::parse_bytes,
        help = "memory the run may use, e.g. 2G or 512M; a configuration estimated to need more is refused [default: MemAvailable of /proc/meminfo]"
    )]
    pub max_memory: Option<u64>,
    #[arg(
        long,
        help = "smoke run: small subsets, 1 epoch, 2 seeds, short ENN training"
    )]
    pub quick: bool,
    #[arg(
        long,
        value_name = "LIST",
        value_delimiter = ',',
        help = "combine the runs.csv of several output folders into one report"
    )]
    pub merge: Option<Vec<PathBuf>>,
    #[arg(
        long,
        short,
        help = "no progress on stderr (errors and warnings still print)"
    )]
    pub quiet: bool,
    #[arg(
        long,
        help = "replace a non-empty --out folder or an unfinished OUT.partial (by default a run refuses to mix its files with another run's); the old folder stays until the new run has finished"
    )]
    pub force: bool,
}

fn parse_shard(s: &str) -> Result<Shard, String> {
    let (i, n) = s
        .split_once('/')
        .ok_or_else(|| format!("takes I/N, e.g. 0/4; got {s:?}"))?;
    let num = |x: &str| {
        x.trim()
            .parse::<u64>()
            .map_err(|_| format!("takes I/N with non-negative integers I < N; got {s:?}"))
    };
    Ok(Shard {
        index: num(i)?,
        count: num(n)?,
    })
}

/// `--hidden`'s value (a newtype, so clap treats the list as one value).
#[derive(Clone, Debug)]
pub struct Widths(pub Vec<usize>);

fn parse_hidden(s: &str) -> Result<Widths, String> {
    s.split(',')
        .map(|p| {
            p.trim().parse::<usize>().map_err(|_| {
                format!("takes comma-separated positive integers, e.g. 100,100; {p:?} in {s:?} is not one")
            })
        })
        .collect::<Result<_, _>>()
        .map(Widths)
}

fn parse_activation(s: &str) -> Result<Activation, String> {
    Activation::parse(s).map_err(|e| e.to_string())
}

fn parse_arm(s: &str) -> Result<Arm, String> {
    Arm::parse(s).map_err(|e| e.to_string())
}

fn parse_image_mode(s: &str) -> Result<ImageMode, String> {
    ImageMode::parse(s).map_err(|e| e.to_string())
}

fn parse_rule(s: &str) -> Result<EnnRule, String> {
    EnnRule::parse(s).map_err(|e| e.to_string())
}

/// The flag that sets a config field (the paths `ExperimentConfig::validate` names), or the
/// field's path for the fields no flag sets.
pub fn flag_of(field: &str) -> String {
    let flag = match field {
        "seeds" => "--seeds",
        "seed_start" => "--seed-start",
        "shard" => "--shard",
        "arms" => "--arms",
        "jobs" => "--jobs",
        "max_memory" => "--max-memory",
        "mlp.hidden" => "--hidden",
        "mlp.activation" => "--activation",
        "mlp.epochs" => "--epochs",
        "mlp.lr" => "--lr",
        "mlp.batch" => "--batch",
        "mlp.l1" => "--l1",
        "mlp.le" => "--le",
        "enn.load" => "--enn",
        "enn.rule" => "--enn-rule",
        "enn.episodes" => "--episodes",
        "enn.steps_per_episode" => "--episode-steps",
        "enn.decide_every" => "--decide-every",
        "enn.tau" => "--tau",
        "enn.seed" => "--enn-seed",
        "enn.checkpoint_every" => "--checkpoint-every",
        "explain.enabled" => "--no-explain",
        "explain.lottery_mlps" => "--lottery-mlps",
        "enn.image_mode" => "--image-mode",
        "enn.mask_inert" => "--mask-inert",
        "predict.enns" => "--predict-enn",
        "predict.episodes" => "--predict-episodes",
        "predict.seeds" => "--predict-seeds",
        "data.dir" => "--data",
        other => return format!("config field {other}"),
    };
    flag.to_string()
}

/// The flags that only `--merge` may be combined with.
pub const MERGE_FLAGS: [&str; 4] = ["merge", "out", "quiet", "force"];

impl Cli {
    /// The experiment configuration: the preset, then every flag given.
    pub fn config(&self) -> ExperimentConfig {
        let mut c = ExperimentConfig::preset(if self.output.quick {
            Preset::Quick
        } else {
            Preset::Default
        });
        fn set<T: Clone>(field: &mut T, flag: &Option<T>) {
            if let Some(v) = flag {
                *field = v.clone();
            }
        }
        set(&mut c.seeds, &self.mlp.seeds);
        set(&mut c.seed_start, &self.mlp.seed_start);
        set(&mut c.shard, &self.mlp.shard);
        set(&mut c.mlp.epochs, &self.mlp.epochs);
        set(&mut c.mlp.lr, &self.mlp.lr);
        set(&mut c.mlp.batch, &self.mlp.batch);
        set(
            &mut c.mlp.hidden,
            &self.mlp.hidden.as_ref().map(|w| w.0.clone()),
        );
        set(&mut c.mlp.activation, &self.mlp.activation);
        set(&mut c.arms, &self.mlp.arms);
        set(&mut c.mlp.l1, &self.mlp.l1);
        set(&mut c.mlp.le, &self.mlp.le);
        c.enn.load = self.enn.enn_path.clone();
        set(&mut c.enn.rule, &self.enn.enn_rule);
        set(&mut c.enn.episodes, &self.enn.episodes);
        set(&mut c.enn.steps_per_episode, &self.enn.episode_steps);
        set(&mut c.enn.decide_every, &self.enn.decide_every);
        set(&mut c.enn.tau, &self.enn.tau);
        set(&mut c.enn.seed, &self.enn.enn_seed);
        set(&mut c.enn.checkpoint_every, &self.enn.checkpoint_every);
        set(&mut c.enn.image_mode, &self.enn.image_mode);
        c.enn.mask_inert |= self.enn.mask_inert;
        set(&mut c.explain.lottery_mlps, &self.output.lottery_mlps);
        c.explain.enabled &= !self.output.no_explain;
        set(&mut c.predict.enns, &self.output.predict_enn);
        if self.output.predict_episodes.is_some() {
            c.predict.episodes = self.output.predict_episodes;
        }
        set(&mut c.predict.seeds, &self.output.predict_seeds);
        c.data.dir = self.output.data.clone();
        set(&mut c.jobs, &self.output.jobs);
        c.max_memory = self.output.max_memory;
        c
    }
}
