//! Divergence is a result, not a success (issue 15): a run trained at an absurd learning rate
//! is flagged (arm, seed, epoch, condition) by the library, recorded in `runs.csv`, and its
//! arm gets no p-value in the summary, the paired table, the report or the terminal; a normal
//! run flags nothing; a `runs.csv` from before the `diverged` column still reads and merges.

mod common;

use common::bin::{mnist_data, mnist_enn_exe, run, texts};
use common::temp_dir;
use grad_instructor::data::{Dataset, Mnist};
use grad_instructor::experiment::merge::merge;
use grad_instructor::experiment::output::{read_runs, runs_table, summary_table};
use grad_instructor::experiment::summary::diverged_text;
use grad_instructor::experiment::{
    run_arm, summarize, Arm, Cause, Divergence, ExperimentConfig, Preset, RunRecord, TrainConfig,
};
use std::path::Path;

fn subset() -> (Dataset, Dataset) {
    let m = Mnist::load(&Mnist::locate(Some(&mnist_data())).unwrap()).unwrap();
    (m.train.take(3000), m.test.take(1000))
}

fn config(lr: f32) -> TrainConfig {
    TrainConfig {
        epochs: 2,
        lr,
        batch: 32,
        ..TrainConfig::default()
    }
}

#[test]
fn a_huge_learning_rate_is_flagged_and_a_normal_one_is_not() {
    let (train, test) = subset();
    for arm in [Arm::Bp, Arm::He] {
        // lr 50: finite losses (the NaN guard does not fire) and accuracy near chance.
        let r = run_arm(arm, 0, &config(50.0), &train, &test, None, |_, _| {})
            .unwrap()
            .record;
        let d = r
            .divergence
            .unwrap_or_else(|| panic!("{arm:?} at lr 50 not flagged: {r:?}"));
        assert!(r.last_epoch_loss.is_finite(), "{r:?}");
        assert!((1..=2).contains(&d.epoch), "{d:?}");
        if d.cause == Cause::Chance {
            assert!(r.test_acc <= 0.12, "{r:?}");
            assert_eq!(d.epoch, 2, "chance is recorded at the last epoch");
        }
        let ok = run_arm(arm, 0, &config(0.1), &train, &test, None, |_, _| {})
            .unwrap()
            .record;
        assert_eq!(ok.divergence, None, "{arm:?} at lr 0.1: {ok:?}");
        assert!(ok.test_acc > 0.8, "{ok:?}");
    }
}

fn record(arm: Arm, seed: u64, test_acc: f64, divergence: Option<Divergence>) -> RunRecord {
    RunRecord {
        arm,
        seed,
        test_acc,
        train_acc: test_acc,
        last_epoch_loss: 0.5,
        train_secs: 1.0,
        steps: 10,
        divergence,
    }
}

const CHANCE: Option<Divergence> = Some(Divergence {
    epoch: 3,
    cause: Cause::Chance,
});

#[test]
fn a_diverged_arm_gets_no_p_value_and_every_diverged_run_is_listed() {
    let records = [
        record(Arm::Bp, 0, 0.90, None),
        record(Arm::Bp, 1, 0.89, None),
        record(Arm::He, 0, 0.93, None),
        record(Arm::He, 1, 0.10, CHANCE),
        record(Arm::GradInstructor, 0, 0.92, None),
        record(Arm::GradInstructor, 1, 0.91, None),
    ];
    let s = summarize(&records);
    assert_eq!((s[0].diverged, s[1].diverged), (0, 1));
    assert!(s[0].welch_vs_gi.is_some(), "bp against gi is tested");
    assert!(s[1].welch_vs_gi.is_none(), "he diverged: no test");
    let table = summary_table(&s).unwrap().to_markdown();
    let he = table.lines().find(|l| l.starts_with("| he")).unwrap();
    assert!(he.contains("diverged (1 of 2 seeds)"), "{table}");
    assert!(he.contains("2 (1 diverged)"), "{table}");
    let text = diverged_text(&records).unwrap();
    assert!(text.contains("he seed 1: epoch 3"), "{text}");
    assert_eq!(text.lines().count(), 2, "a heading and one run: {text}");
    assert_eq!(diverged_text(&records[..3]), None);
    // gi diverged: no arm has a p-value against it.
    let mut gi_bad = records;
    gi_bad[4] = record(Arm::GradInstructor, 0, 0.1, CHANCE);
    let s = summarize(&gi_bad);
    assert!(s.iter().all(|a| a.welch_vs_gi.is_none()));
    let table = summary_table(&s).unwrap().to_markdown();
    assert!(table.contains("— (gi diverged)"), "{table}");
}

/// A folder as a run leaves it, with `runs.csv` given as text.
fn folder(dir: &Path, runs_csv: &str, config: &ExperimentConfig) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("runs.csv"), runs_csv).unwrap();
    let summary = serde_json::json!({ "config": serde_json::to_value(config).unwrap() });
    grad_instructor::report::json::write_json_pretty(&dir.join("summary.json"), &summary).unwrap();
}

#[test]
fn runs_csv_records_divergence_and_the_old_format_still_reads_and_merges() {
    let base = temp_dir("runs-csv");
    let records = [
        record(Arm::Bp, 0, 0.9, None),
        record(Arm::Bp, 1, 0.1, CHANCE),
    ];
    let new = base.join("new.csv");
    grad_instructor::report::csv::write_csv(&new, &runs_table(&records, "0badc0de").unwrap())
        .unwrap();
    let text = std::fs::read_to_string(&new).unwrap();
    assert!(
        text.lines().next().unwrap().ends_with(",diverged,config"),
        "{text}"
    );
    assert!(text.contains(",chance@epoch3"), "{text}");
    assert_eq!(read_runs(&new).unwrap().1, records);
    // A bad cell is an error naming the column.
    std::fs::write(&new, text.replace("chance@epoch3", "maybe")).unwrap();
    let e = read_runs(&new).unwrap_err().to_string();
    assert!(e.contains("diverged \"maybe\""), "{e}");
    // The format before the column: read with no flag ...
    let old_text = "arm,seed,test_acc,train_acc,gap,last_epoch_loss,train_secs,steps\n\
                    he,0,0.930000,0.940000,0.010000,0.300000,1.000,10\n\
                    he,1,0.098000,0.099000,0.001000,4.1e30,1.000,10\n";
    let old = base.join("old.csv");
    std::fs::write(&old, old_text).unwrap();
    let (_, rs) = read_runs(&old).unwrap();
    assert_eq!(rs.len(), 2);
    assert!(rs.iter().all(|r| r.divergence.is_none()));
    // ... and merged with the accuracy rule applied (at the config's last epoch), the column
    // filled in, so the merged file is in the new format.
    let mut c = ExperimentConfig::preset(Preset::Quick);
    c.mlp.epochs = 3;
    folder(&base.join("a"), old_text, &c);
    let out = base.join("merged");
    let m = merge(&[base.join("a")], &out, "test").unwrap();
    assert_eq!(m.records[0].divergence, None);
    assert_eq!(m.records[1].divergence, CHANCE);
    assert_eq!(m.summaries[0].diverged, 1);
    let (t, again) = read_runs(&out.join("runs.csv")).unwrap();
    assert_eq!(t.headers[8], "diverged");
    assert_eq!(t.headers.last().map(String::as_str), Some("config"));
    assert_eq!(again, m.records);
    let report = std::fs::read_to_string(out.join("report.md")).unwrap();
    assert!(report.contains("DIVERGED: 1 of 2 runs"), "{report}");
    std::fs::remove_dir_all(&base).unwrap();
}

/// Through the binary: `--lr 50` ends with exit 0 (a result), but the terminal and the report
/// say DIVERGED for every run and print no p-value; a normal run says no run diverged.
#[test]
fn mnist_enn_reports_a_diverged_run_plainly_and_a_normal_run_flags_nothing() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("cli");
    let data = mnist_data();
    let quick = |lr: &str, out: &Path| {
        run(
            &exe,
            &[
                "--quick".as_ref(),
                "--quiet".as_ref(),
                "--arms".as_ref(),
                "bp,he".as_ref(),
                "--lr".as_ref(),
                lr.as_ref(),
                "--data".as_ref(),
                data.as_os_str(),
                "--out".as_ref(),
                out.as_os_str(),
            ],
        )
    };
    let bad = dir.join("lr50");
    let out = quick("50", &bad);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stdout.contains("DIVERGED RUNS (4 of 4)"), "{stdout}");
    for arm in ["bp", "he"] {
        for seed in 0..2 {
            assert!(
                stdout.contains(&format!("  {arm} seed {seed}: epoch 1")),
                "{stdout}"
            );
        }
    }
    // No p-value anywhere: every table row with an arm reads diverged instead.
    let rows: Vec<&str> = stdout
        .lines()
        .filter(|l| l.starts_with("| bp") || l.starts_with("| he"))
        .collect();
    assert_eq!(rows.len(), 3, "two arm rows and he − bp: {stdout}");
    for row in &rows {
        assert!(row.contains("diverged (2 of 2 seeds)"), "{row}");
        assert!(
            !row.contains("e-") && !row.contains("["),
            "a p-value or CI in {row}"
        );
    }
    let csv = std::fs::read_to_string(bad.join("runs.csv")).unwrap();
    assert_eq!(csv.matches("@epoch1").count(), 4, "{csv}");
    let report = std::fs::read_to_string(bad.join("report.md")).unwrap();
    assert!(report.contains("DIVERGED: 4 of 4 runs"), "{report}");
    let summary = std::fs::read_to_string(bad.join("summary.json")).unwrap();
    assert!(summary.contains("\"diverged\": 2"), "{summary}");
    assert!(summary.contains("\"excluded\""), "{summary}");

    let good = dir.join("normal");
    let out = quick("0.01", &good);
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(!stdout.to_lowercase().contains("diverged"), "{stdout}");
    let csv = std::fs::read_to_string(good.join("runs.csv")).unwrap();
    assert_eq!(
        csv.lines()
            .skip(1)
            .filter(|l| l.split(',').nth(8) == Some("no"))
            .count(),
        4,
        "{csv}"
    );
    let report = std::fs::read_to_string(good.join("report.md")).unwrap();
    assert!(
        report.contains("No run diverged (4 runs checked)"),
        "{report}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}
