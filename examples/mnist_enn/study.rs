//! `mnist_enn study`: the pre-registered reproduction study (`docs/study.md`).
//!
//! Its flags are a clap derive of their own (the study has its own configuration,
//! `StudyConfig`, not `ExperimentConfig`); `main.rs` hands over everything after `study`.

use clap::Parser;
use grad_instructor::experiment::study::{
    merge, run_study, StudyConfig, StudyOptions, StudyPreset, StudyStatus,
};
use std::path::PathBuf;
use std::time::Instant;

type AnyError = Box<dyn std::error::Error>;

/// `"<what> [default: <default preset's value>; --quick: <quick preset's value>]"`.
fn dflt<T: std::fmt::Debug + PartialEq>(what: &str, f: impl Fn(&StudyConfig) -> T) -> String {
    let (d, q) = (
        f(&StudyConfig::preset(StudyPreset::Default)),
        f(&StudyConfig::preset(StudyPreset::Quick)),
    );
    if d == q {
        format!("{what} [default: {d:?}]")
    } else {
        format!("{what} [default: {d:?}; --quick: {q:?}]")
    }
}

/// The study's command line.
#[derive(Parser, Debug)]
#[command(
    name = "mnist_enn study",
    about = "The pre-registered reproduction study (docs/study.md)",
    after_help = "Shards: run `--shard I/N` on N machines into one shared --out, or into N folders \
                  and combine them with `--merge DIR1,DIR2,... --out DIR` (docs/study.md has a \
                  Slurm example)."
)]
pub struct StudyCli {
    /// study folder (rows already there are kept: resume)
    #[arg(long, value_name = "DIR", default_value = "runs/study")]
    pub out: PathBuf,
    /// every stage on tiny sizes (CI; under a minute)
    #[arg(long)]
    pub quick: bool,
    #[arg(long, value_name = "S", help = dflt("study seed; every seed is an offset from it", |c| c.seed))]
    pub seed: Option<u64>,
    /// runs in parallel [default: available cores]
    #[arg(long, value_name = "N", value_parser = parse_jobs)]
    pub jobs: Option<usize>,
    /// run every N-th row of each stage, starting at I
    #[arg(long, value_name = "I/N", value_parser = parse_shard, default_value = "0/1")]
    pub shard: (u64, u64),
    /// stop after stage K (1-4)
    #[arg(long, value_name = "K", value_parser = clap::value_parser!(u8).range(1..=4), default_value_t = 4)]
    pub until_stage: u8,
    /// union the rows and ENNs of these study folders into --out
    #[arg(long, value_name = "LIST", value_delimiter = ',')]
    pub merge: Vec<PathBuf>,
    /// MNIST directory [default: data/mnist, or $GI_MNIST_DIR]
    #[arg(long, value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// no progress lines
    #[arg(long, short)]
    pub quiet: bool,
}

fn parse_jobs(s: &str) -> Result<usize, String> {
    s.parse()
        .ok()
        .filter(|&j: &usize| j > 0)
        .ok_or_else(|| "need a positive integer".to_string())
}

fn parse_shard(s: &str) -> Result<(u64, u64), String> {
    s.split_once('/')
        .and_then(|(i, n)| Some((i.trim().parse().ok()?, n.trim().parse().ok()?)))
        .filter(|&(i, n): &(u64, u64)| n > 0 && i < n)
        .ok_or_else(|| "need I/N with 0 <= I < N".to_string())
}

impl StudyCli {
    /// The study configuration: the preset, then `--seed` and `--data`.
    pub fn config(&self) -> StudyConfig {
        let mut cfg = StudyConfig::preset(if self.quick {
            StudyPreset::Quick
        } else {
            StudyPreset::Default
        });
        if let Some(s) = self.seed {
            cfg.seed = s;
        }
        cfg.data_dir = self.data.clone();
        cfg
    }

    /// How this process runs it; `command` is recorded in the report.
    pub fn options(&self, command: String) -> StudyOptions {
        StudyOptions {
            jobs: self
                .jobs
                .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
            shard: self.shard,
            until_stage: self.until_stage,
            command,
        }
    }
}

/// Runs the `study` subcommand with the arguments after `study`. A usage error comes back
/// as its first line (main prints it as one `error:` line and exits 1); `--help` prints.
pub fn run(args: Vec<String>) -> Result<(), AnyError> {
    let command = std::iter::once("mnist_enn study".to_string())
        .chain(args.iter().cloned())
        .collect::<Vec<_>>()
        .join(" ");
    let cli = match StudyCli::try_parse_from(std::iter::once("mnist_enn study".into()).chain(args))
    {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help
            return Ok(());
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            return Err(first.trim_start_matches("error: ").to_string().into());
        }
    };
    if cli.merge.iter().any(|d| d.as_os_str().is_empty()) {
        return Err(
            "--merge needs a comma-separated list of study folders, e.g. --merge runs/a,runs/b"
                .into(),
        );
    }
    let cfg = cli.config();
    let opts = cli.options(command);
    let progress = crate::stderr_progress(cli.quiet);
    let started = Instant::now();
    let status = if cli.merge.is_empty() {
        run_study(&cfg, &cli.out, &opts, &progress)?
    } else {
        merge(&cfg, &cli.merge, &cli.out, &opts.command)?
    };
    report_status(&status, &cli.out, started.elapsed().as_secs_f64());
    Ok(())
}

/// Where the study stands (stderr), and the verdict line of `study.md` (stdout) if any.
fn report_status(status: &StudyStatus, out: &std::path::Path, secs: f64) {
    match status {
        StudyStatus::Complete => eprintln!(
            "study complete in {secs:.1} s; report in {}",
            out.join("study.html").display()
        ),
        StudyStatus::Waiting(k) => eprintln!(
            "stage {k} waits for the other shards (rows missing); this process's rows are in {}",
            out.display()
        ),
        StudyStatus::Stopped(k) => {
            eprintln!(
                "stopped after stage {k} in {secs:.1} s; report in {}",
                out.display()
            )
        }
    }
    if let Ok(md) = std::fs::read_to_string(out.join("study.md")) {
        if let Some(v) = md.lines().find(|l| l.contains("VERDICT")) {
            println!("{v}");
        }
    }
}
