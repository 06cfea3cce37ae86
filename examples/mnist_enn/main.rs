//! The main experiment: `cargo run --release --example mnist_enn -- --help`.
//!
//! Wiring only: parse the command line into an `ExperimentConfig` (cli.rs), run it with
//! `grad_instructor::experiment::run`, render its progress on stderr (one bar per phase with
//! an ETA on a terminal, plain lines otherwise, nothing with `--quiet`), print the summary
//! table and write the outputs (`experiment::output`).

mod cli;
mod study;

use clap::parser::ValueSource;
use clap::{CommandFactory, FromArgMatches};
use grad_instructor::experiment::output::{self, summary_table, timing_line};
use grad_instructor::experiment::{self, ConfigWarning, Progress, RunError};
use indicatif::{ProgressBar, ProgressStyle};
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::Mutex;

type AnyError = Box<dyn std::error::Error>;

/// `runs/YYYYMMDD-HHMMSS` in UTC (days-to-civil conversion, H. Hinnant's algorithm).
fn default_out_dir() -> PathBuf {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs()) as i64;
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
    PathBuf::from(format!(
        "runs/{y:04}{m:02}{d:02}-{:02}{:02}{:02}",
        rem / 3600,
        rem / 60 % 60,
        rem % 60
    ))
}

/// Renders the library's progress reports on stderr.
enum Stderr {
    /// `--quiet`: notes and progress are dropped.
    Quiet,
    /// stderr is not a terminal: one plain line per report.
    Lines,
    /// A terminal: one bar per phase with an ETA; messages above it.
    Bars(Mutex<Option<ProgressBar>>),
}

impl Progress for Stderr {
    fn start(&self, phase: &str, total: u64) {
        match self {
            Stderr::Quiet => {}
            Stderr::Lines => eprintln!("== {phase} ({total} steps)"),
            Stderr::Bars(bar) => {
                let style = ProgressStyle::with_template(
                    "{prefix:>20} [{bar:30}] {pos}/{len} {elapsed_precise} ETA {eta} {wide_msg}",
                )
                .expect("a valid template")
                .progress_chars("=> ");
                let b = ProgressBar::new(total).with_style(style);
                b.set_prefix(phase.to_string());
                *bar.lock().unwrap() = Some(b);
            }
        }
    }

    fn advance(&self, units: u64, message: &str) {
        match self {
            Stderr::Quiet => {}
            Stderr::Lines => eprintln!("{message}"),
            Stderr::Bars(bar) => {
                if let Some(b) = bar.lock().unwrap().as_ref() {
                    b.inc(units);
                    b.set_message(message.to_string());
                }
            }
        }
    }

    fn finish(&self) {
        if let Stderr::Bars(bar) = self {
            if let Some(b) = bar.lock().unwrap().take() {
                b.finish();
            }
        }
    }

    fn warn(&self, w: &ConfigWarning) {
        let line = format!(
            "warning: {} {}: {}",
            cli::flag_of(w.field),
            w.value,
            w.message
        );
        match self {
            Stderr::Bars(bar) => match bar.lock().unwrap().as_ref() {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            },
            _ => eprintln!("{line}"),
        }
    }

    fn note(&self, message: &str) {
        match self {
            Stderr::Quiet => {}
            Stderr::Lines => eprintln!("{message}"),
            Stderr::Bars(bar) => match bar.lock().unwrap().as_ref() {
                Some(b) => b.println(message),
                None => eprintln!("{message}"),
            },
        }
    }
}

/// The progress renderer for `--quiet` or not.
fn stderr_progress(quiet: bool) -> Stderr {
    if quiet {
        Stderr::Quiet
    } else if std::io::stderr().is_terminal() {
        Stderr::Bars(Mutex::new(None))
    } else {
        Stderr::Lines
    }
}

fn run(cli: cli::Cli) -> Result<(), AnyError> {
    let out = cli
        .output
        .out
        .clone()
        .or_else(|| cli.enn.resume.clone())
        .unwrap_or_else(default_out_dir);
    let command = std::env::args().collect::<Vec<_>>().join(" ");
    let progress = stderr_progress(cli.output.quiet);
    // A refusal to replace a folder says which flag allows it.
    let with_hint = |e: grad_instructor::Error| -> AnyError {
        match e {
            grad_instructor::Error::Usage(ref m)
                if m.contains("is not empty") || m.contains("unfinished run") =>
            {
                format!("{e}; pass --force to replace it").into()
            }
            e => e.into(),
        }
    };
    if let Some(dirs) = &cli.output.merge {
        if dirs.is_empty() || dirs.iter().any(|d| d.as_os_str().is_empty()) {
            return Err("--merge needs a comma-separated list of output folders, e.g. --merge runs/a,runs/b".into());
        }
        let merged = experiment::merge::merge_with(dirs, &out, cli.output.force, &command)
            .map_err(with_hint)?;
        for w in &merged.warnings {
            eprintln!("warning: {w}");
        }
        println!("{}", summary_table(&merged.summaries)?.to_markdown());
        if let Some(text) = experiment::summary::diverged_text(&merged.records) {
            println!("{text}\n");
        }
        progress.note(&format!(
            "merged {} rows into {}",
            merged.records.len(),
            out.display()
        ));
        return Ok(());
    }
    // Everything is written into OUT.partial and renamed to OUT at the end (output::OutDir):
    // a failed run leaves an existing OUT as it was.
    let staged = output::OutDir::prepare(&out, cli.enn.resume.as_deref(), cli.output.force)
        .map_err(with_hint)?;
    let cfg = cli.config();
    let outcome = match experiment::run(&cfg, staged.path(), staged.resume_from(), &progress) {
        Ok(o) => o,
        // The library names the field; say which flag sets it.
        Err(RunError::Config(e)) => {
            return Err(format!("{} {}: {}", cli::flag_of(e.field), e.value, e.reason).into())
        }
        Err(e) => return Err(e.into()),
    };
    output::write_csvs(staged.path(), &outcome)?;
    println!("\n{} on {}", outcome.describe(), outcome.data_name);
    println!("{}", summary_table(&outcome.summaries())?.to_markdown());
    if let Some(text) = experiment::summary::diverged_text(&outcome.records()) {
        println!("{text}\n");
    }
    let paired = grad_instructor::experiment::paired_comparisons(&outcome.records())?;
    println!(
        "{}",
        grad_instructor::experiment::paired_table(&paired)?.to_markdown()
    );
    println!("{}; outputs in {}", timing_line(&outcome), out.display());
    output::write_summary_json(staged.path(), &command, &outcome)?;
    experiment::sections::write_report(staged.path(), &command, &outcome)?;
    staged.commit()?;
    progress.note(&format!("report: {}", out.join("report.html").display()));
    Ok(())
}

/// Parses the command line; `--merge` combines finished runs, so any experiment flag beside it
/// is an error (it would be silently ignored).
fn parse() -> Result<cli::Cli, clap::Error> {
    let matches = cli::Cli::command().try_get_matches()?;
    let cli = cli::Cli::from_arg_matches(&matches)?;
    if cli.output.merge.is_some() {
        let command = cli::Cli::command();
        let given: Vec<String> = matches
            .ids()
            .map(|id| id.as_str())
            .filter(|id| !cli::MERGE_FLAGS.contains(id))
            .filter(|id| matches.value_source(id) == Some(ValueSource::CommandLine))
            .filter_map(|id| command.get_arguments().find(|a| a.get_id() == id))
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect();
        if !given.is_empty() {
            return Err(cli::Cli::command().error(
                clap::error::ErrorKind::ArgumentConflict,
                format!(
                    "--merge combines finished runs and takes only --out, --force and --quiet; remove {}",
                    given.join(", ")
                ),
            ));
        }
    }
    Ok(cli)
}

fn main() {
    // `mnist_enn study ...`: the reproduction study (study.rs has its own flags).
    if std::env::args().nth(1).as_deref() == Some("study") {
        if let Err(e) = study::run(std::env::args().skip(2).collect()) {
            eprintln!("error: {e}");
            std::process::exit(1);
        }
        return;
    }
    // clap's own errors are rendered as one `error:` line and exit 1, like every other error.
    let cli = match parse() {
        Ok(cli) => cli,
        Err(e) if !e.use_stderr() => {
            let _ = e.print(); // --help
            return;
        }
        Err(e) => {
            let text = e.render().to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            eprintln!("error: {}", first.trim_start_matches("error: "));
            std::process::exit(1);
        }
    };
    if let Err(e) = run(cli) {
        eprintln!("error: {e}");
        std::process::exit(1);
    }
}
