//! `mnist_enn study`: the pre-registered reproduction study (`docs/study.md`).

use grad_instructor::experiment::study::{
    merge, run_study, StudyConfig, StudyOptions, StudyPreset, StudyStatus,
};
use std::path::PathBuf;
use std::time::Instant;

type AnyError = Box<dyn std::error::Error>;

pub const HELP: &str = "\
mnist_enn study: the pre-registered reproduction study (docs/study.md)

USAGE: cargo run --release --example mnist_enn -- study [FLAGS]

  --out DIR          study folder (rows already there are kept: resume) [runs/study]
  --quick            every stage on tiny sizes (CI; under a minute)
  --seed S           study seed; every seed is an offset from it [0]
  --jobs N           runs in parallel [available cores]
  --shard I/N        run every N-th row of each stage, starting at I [0/1]
  --until-stage K    stop after stage K (1-4) [4]
  --merge LIST       union the rows and ENNs of these study folders into --out
  --data DIR         MNIST directory [data/mnist, or $GI_MNIST_DIR]
  --quiet            no progress lines
  -h, --help         this text
";

/// Runs the `study` subcommand with the arguments after `study`.
pub fn run(args: Vec<String>) -> Result<(), AnyError> {
    let mut cfg = StudyConfig::preset(StudyPreset::Default);
    let mut quick = false;
    let mut out = PathBuf::from("runs/study");
    let mut seed = None;
    let mut data = None;
    let mut opts = StudyOptions {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        shard: (0, 1),
        until_stage: 4,
        command: std::iter::once("mnist_enn study".to_string())
            .chain(args.iter().cloned())
            .collect::<Vec<_>>()
            .join(" "),
    };
    let mut merge_dirs: Vec<PathBuf> = Vec::new();
    let mut quiet = false;
    let mut it = args.into_iter();
    let usage = |m: String| -> AnyError { format!("{m} (see --help)").into() };
    while let Some(a) = it.next() {
        let mut value = |name: &str| {
            it.next()
                .ok_or_else(|| usage(format!("{name} needs a value")))
        };
        match a.as_str() {
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(());
            }
            "--quick" => quick = true,
            "--quiet" => quiet = true,
            "--out" => out = PathBuf::from(value("--out")?),
            "--data" => data = Some(PathBuf::from(value("--data")?)),
            "--seed" => {
                let v = value("--seed")?;
                seed = Some(
                    v.parse()
                        .map_err(|_| usage(format!("--seed {v:?}: not an integer")))?,
                )
            }
            "--jobs" => {
                let v = value("--jobs")?;
                opts.jobs = v
                    .parse()
                    .ok()
                    .filter(|&j: &usize| j > 0)
                    .ok_or_else(|| usage(format!("--jobs {v:?}: need a positive integer")))?
            }
            "--until-stage" => {
                let v = value("--until-stage")?;
                opts.until_stage = v
                    .parse()
                    .ok()
                    .filter(|s| (1..=4).contains(s))
                    .ok_or_else(|| usage(format!("--until-stage {v:?}: need 1, 2, 3 or 4")))?
            }
            "--shard" => {
                let v = value("--shard")?;
                let parsed = v
                    .split_once('/')
                    .and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)))
                    .filter(|&(i, n): &(u64, u64)| n > 0 && i < n);
                opts.shard = parsed
                    .ok_or_else(|| usage(format!("--shard {v:?}: need I/N with 0 <= I < N")))?
            }
            "--merge" => {
                merge_dirs = value("--merge")?
                    .split(',')
                    .filter(|s| !s.is_empty())
                    .map(PathBuf::from)
                    .collect()
            }
            other => return Err(usage(format!("unknown study flag {other:?}"))),
        }
    }
    if quick {
        cfg = StudyConfig::preset(StudyPreset::Quick);
    }
    if let Some(s) = seed {
        cfg.seed = s;
    }
    cfg.data_dir = data;
    let progress = crate::stderr_progress(quiet);
    let started = Instant::now();
    let status = if merge_dirs.is_empty() {
        run_study(&cfg, &out, &opts, &progress)?
    } else {
        merge(&cfg, &merge_dirs, &out, &opts.command)?
    };
    let secs = started.elapsed().as_secs_f64();
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
    Ok(())
}
