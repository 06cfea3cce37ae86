//! The main experiment: `cargo run --release --example mnist_enn -- --help`.
//!
//! Trains the target MLP (784-100-10, ReLU) on MNIST under each arm over several seeds and
//! prints per arm the mean ± std of test accuracy, train accuracy and the train−test gap.
//! Writes `runs.csv` (one row per seed) and `summary.json` into the output folder.

use grad_instructor::data::{Dataset, Mnist};
use grad_instructor::instructor::experiment::{run_arm, Arm, RunResult, TrainConfig};
use grad_instructor::io::atomic::write_atomic;
use grad_instructor::nn::Activation;
use grad_instructor::stats;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Instant;

const HELP: &str = "\
mnist_enn: reproduce the Grad-Instructor comparison on MNIST

USAGE: cargo run --release --example mnist_enn -- [FLAGS]

FLAGS (defaults are our reconstruction; the paper does not state them):
  --seeds N          seeds per arm [10]
  --seed-start S     first seed [0]
  --epochs N         passes over the training set [3]
  --lr X             SGD learning rate [0.01]
  --batch N          mini-batch size [64]
  --hidden LIST      hidden widths, comma-separated [100]
  --activation A     relu | sigmoid | tanh [relu]
  --arms LIST        comma-separated subset of bp,l1,he [bp,l1,he]
  --l1 X             L1 strength of the l1 arm [1e-4]
  --data DIR         MNIST directory [data/mnist, or $GI_MNIST_DIR]
  --out DIR          output folder [runs/<timestamp>]
  --jobs N           runs trained in parallel [available cores]
  --quick            smoke run: 5000 training and 2000 test images, 1 epoch, 2 seeds
  -h, --help         this text
";

struct Args {
    seeds: u64,
    seed_start: u64,
    cfg: TrainConfig,
    arms: Vec<Arm>,
    data: Option<PathBuf>,
    out: Option<PathBuf>,
    jobs: usize,
    quick: bool,
}

fn parse_args() -> Result<Option<Args>, Box<dyn std::error::Error>> {
    use lexopt::prelude::*;
    let mut a = Args {
        seeds: 10,
        seed_start: 0,
        cfg: TrainConfig::default(),
        arms: vec![Arm::Bp, Arm::L1, Arm::He],
        data: None,
        out: None,
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        quick: false,
    };
    let (mut seeds, mut epochs) = (None, None);
    let mut hidden = vec![100usize];
    let mut p = lexopt::Parser::from_env();
    while let Some(arg) = p.next()? {
        match arg {
            Long("seeds") => seeds = Some(p.value()?.parse()?),
            Long("seed-start") => a.seed_start = p.value()?.parse()?,
            Long("epochs") => epochs = Some(p.value()?.parse()?),
            Long("lr") => a.cfg.lr = p.value()?.parse()?,
            Long("batch") => a.cfg.batch = p.value()?.parse()?,
            Long("hidden") => {
                hidden = p.value()?.string()?.split(',').map(|s| s.trim().parse()).collect::<Result<_, _>>()?
            }
            Long("activation") => a.cfg.activation = Activation::parse(&p.value()?.string()?)?,
            Long("arms") => a.arms = p.value()?.string()?.split(',').map(Arm::parse).collect::<Result<_, _>>()?,
            Long("l1") => a.cfg.l1_lambda = p.value()?.parse()?,
            Long("data") => a.data = Some(p.value()?.into()),
            Long("out") => a.out = Some(p.value()?.into()),
            Long("jobs") => a.jobs = p.value()?.parse::<usize>()?.max(1),
            Long("quick") => a.quick = true,
            Short('h') | Long("help") => {
                print!("{HELP}");
                return Ok(None);
            }
            _ => return Err(arg.unexpected().into()),
        }
    }
    a.seeds = seeds.unwrap_or(if a.quick { 2 } else { 10 });
    a.cfg.epochs = epochs.unwrap_or(if a.quick { 1 } else { 3 });
    if a.seeds == 0 || a.cfg.epochs == 0 || a.cfg.batch == 0 || hidden.contains(&0) || !(a.cfg.lr > 0.0) {
        return Err("--seeds, --epochs, --batch, --hidden and --lr must be positive".into());
    }
    a.cfg.sizes = std::iter::once(784).chain(hidden).chain(std::iter::once(10)).collect();
    Ok(Some(a))
}

/// `runs/YYYYMMDD-HHMMSS` in UTC (days-to-civil conversion, H. Hinnant's algorithm).
fn default_out_dir() -> PathBuf {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86400), secs.rem_euclid(86400));
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    PathBuf::from(format!("runs/{y:04}{m:02}{d:02}-{:02}{:02}{:02}", rem / 3600, rem / 60 % 60, rem % 60))
}

/// Trains every (arm, seed) pair on `jobs` threads; results in (arm, seed) order.
fn run_all(a: &Args, train: &Dataset, test: &Dataset) -> Result<Vec<RunResult>, grad_instructor::Error> {
    let work: Vec<(Arm, u64)> = a.arms.iter().flat_map(|&arm| (0..a.seeds).map(move |s| (arm, a.seed_start + s))).collect();
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..a.jobs.min(work.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= work.len() || first_error.lock().unwrap().is_some() {
                    break;
                }
                let (arm, seed) = work[i];
                let epochs = a.cfg.epochs;
                let progress = |epoch: usize, loss: f64| {
                    eprintln!("[{:>2}/{}] {} seed {seed}: epoch {}/{epochs} mean loss {loss:.4}", i + 1, work.len(), arm.name(), epoch + 1);
                };
                match run_arm(arm, seed, &a.cfg, train, test, None, progress) {
                    Ok(r) => results.lock().unwrap().push((i, r)),
                    Err(e) => {
                        first_error.lock().unwrap().get_or_insert(e);
                    }
                }
            });
        }
    });
    if let Some(e) = first_error.into_inner().unwrap() {
        return Err(e);
    }
    let mut r = results.into_inner().unwrap();
    r.sort_by_key(|(i, _)| *i);
    Ok(r.into_iter().map(|(_, r)| r).collect())
}

fn pct(mean_std: (f64, f64)) -> String {
    format!("{:6.2} ± {:4.2}", 100.0 * mean_std.0, 100.0 * mean_std.1)
}

fn run() -> Result<(), Box<dyn std::error::Error>> {
    let Some(a) = parse_args()? else { return Ok(()) };
    let started = Instant::now();
    let dir = Mnist::locate(a.data.as_deref())?;
    let mnist = Mnist::load(&dir)?;
    let (train, test) = if a.quick { (mnist.train.take(5000), mnist.test.take(2000)) } else { (mnist.train, mnist.test) };
    eprintln!(
        "MNIST from {}: {} train / {} test images; MLP {:?}, {} epochs, lr {}, batch {}, seeds {}..{}, {} jobs",
        dir.display(),
        train.len(),
        test.len(),
        a.cfg.sizes,
        a.cfg.epochs,
        a.cfg.lr,
        a.cfg.batch,
        a.seed_start,
        a.seed_start + a.seeds,
        a.jobs
    );
    let results = run_all(&a, &train, &test)?;
    let wall = started.elapsed().as_secs_f64();

    let out = a.out.clone().unwrap_or_else(default_out_dir);
    let mut csv = String::from("arm,seed,test_acc,train_acc,gap,last_epoch_loss,train_secs,steps\n");
    for r in &results {
        csv += &format!(
            "{},{},{:.6},{:.6},{:.6},{:.6},{:.3},{}\n",
            r.arm.name(),
            r.seed,
            r.test_acc,
            r.train_acc,
            r.gap(),
            r.last_epoch_loss,
            r.train_secs,
            r.steps
        );
    }
    write_atomic(&out.join("runs.csv"), csv.as_bytes())?;

    println!("\nMLP {:?} on MNIST, {} epochs, lr {}, batch {}, {} seeds per arm", a.cfg.sizes, a.cfg.epochs, a.cfg.lr, a.cfg.batch, a.seeds);
    println!("| arm | test acc (%) | train acc (%) | train−test gap (pp) | train time per run (s) |");
    println!("|---|---|---|---|---|");
    let mut arms_json = Vec::new();
    for &arm in &a.arms {
        let rs: Vec<&RunResult> = results.iter().filter(|r| r.arm == arm).collect();
        let col = |f: &dyn Fn(&RunResult) -> f64| {
            let v: Vec<f64> = rs.iter().map(|r| f(r)).collect();
            (stats::mean(&v), stats::std_dev(&v))
        };
        let (test, train_acc, gap, secs) = (col(&|r| r.test_acc), col(&|r| r.train_acc), col(&|r| r.gap()), col(&|r| r.train_secs));
        println!("| {} | {} | {} | {} | {:.2} |", arm.name(), pct(test), pct(train_acc), pct(gap), secs.0);
        arms_json.push(serde_json::json!({
            "arm": arm.name(), "description": arm.description(), "seeds": rs.len(),
            "test_acc_mean": test.0, "test_acc_std": test.1,
            "train_acc_mean": train_acc.0, "train_acc_std": train_acc.1,
            "gap_mean": gap.0, "gap_std": gap.1, "train_secs_mean": secs.0,
        }));
    }
    println!("\nwall time {wall:.1} s; per-seed results in {}/runs.csv", out.display());
    let summary = serde_json::json!({
        "command": std::env::args().collect::<Vec<_>>().join(" "),
        "config": {
            "sizes": a.cfg.sizes, "epochs": a.cfg.epochs, "lr": a.cfg.lr, "batch": a.cfg.batch,
            "l1_lambda": a.cfg.l1_lambda, "seed_start": a.seed_start, "seeds": a.seeds, "quick": a.quick,
            "train_images": train.len(), "test_images": test.len(),
        },
        "arms": arms_json,
        "wall_secs": wall,
    });
    write_atomic(&out.join("summary.json"), serde_json::to_string_pretty(&summary)?.as_bytes())?;
    Ok(())
}

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
