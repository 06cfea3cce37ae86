//! Every output file records the configuration it came from (issue 15): the `config` column
//! (the configuration's fingerprint) of `runs.csv`, `grad_norms.csv` and `enn_training.csv`,
//! the `enn_seed` column, and the ENN file's metadata; `merge` refuses folders whose
//! fingerprints differ and a `runs.csv` whose fingerprint is not its `summary.json`'s; a
//! `runs.csv` from before the `config` column still merges, with a warning.

mod common;

use common::bin::{assert_one_error_line, mnist_data, mnist_enn_exe, run, texts};
use common::temp_dir;
use grad_instructor::experiment::config::{comparable, fingerprint_of};
use grad_instructor::experiment::merge::merge;
use grad_instructor::experiment::output::{read_runs, runs_table};
use grad_instructor::experiment::{Arm, ExperimentConfig, Preset, RunRecord};
use grad_instructor::report::csv::{read_csv, write_csv};
use grad_instructor::report::json::{read_json, write_json_pretty};
use std::path::Path;

fn record(arm: Arm, seed: u64, test_acc: f64) -> RunRecord {
    RunRecord {
        arm,
        seed,
        test_acc,
        train_acc: test_acc,
        last_epoch_loss: 0.3,
        train_secs: 1.0,
        steps: 10,
        divergence: None,
    }
}

/// A folder as a run of `config` leaves it for merge: `summary.json` recording the
/// configuration and `runs.csv` of `records` with `fingerprint` in its `config` column.
fn folder(dir: &Path, records: &[RunRecord], config: &ExperimentConfig, fingerprint: &str) {
    std::fs::create_dir_all(dir).unwrap();
    write_csv(
        &dir.join("runs.csv"),
        &runs_table(records, fingerprint).unwrap(),
    )
    .unwrap();
    let summary = serde_json::json!({ "config": serde_json::to_value(config).unwrap() });
    write_json_pretty(&dir.join("summary.json"), &summary).unwrap();
}

#[test]
fn a_recorded_config_read_back_has_the_fingerprint_of_the_config() {
    let dir = temp_dir("roundtrip");
    let mut odd = ExperimentConfig::preset(Preset::Quick);
    // Values whose decimal forms are long: the round trip must not change a digit.
    odd.mlp.lr = 0.1;
    odd.enn.seed = u64::MAX;
    odd.shard.count = 3;
    for (i, c) in [
        ExperimentConfig::preset(Preset::Default),
        ExperimentConfig::preset(Preset::Quick),
        odd,
    ]
    .iter()
    .enumerate()
    {
        let path = dir.join(format!("summary{i}.json"));
        write_json_pretty(
            &path,
            &serde_json::json!({ "config": serde_json::to_value(c).unwrap() }),
        )
        .unwrap();
        let mut back = read_json(&path).unwrap()["config"].take();
        comparable(&mut back);
        assert_eq!(fingerprint_of(&back), c.fingerprint(), "config {i}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn merge_refuses_folders_of_different_fingerprints_and_a_runs_csv_of_another_run() {
    let base = temp_dir("merge");
    let c = ExperimentConfig::preset(Preset::Quick);
    let mut other = c.clone();
    other.predict.seeds += 1;
    let (fc, fo) = (c.fingerprint(), other.fingerprint());
    assert_ne!(fc, fo);
    let (a, b) = (base.join("a"), base.join("b"));
    folder(&a, &[record(Arm::Bp, 0, 0.9)], &c, &fc);
    folder(&b, &[record(Arm::Bp, 1, 0.9)], &other, &fo);
    let out = base.join("out");
    let e = merge(&[a.clone(), b.clone()], &out, "test")
        .err()
        .expect("different configurations merged")
        .to_string();
    for needle in [
        a.display().to_string(),
        b.display().to_string(),
        fc.clone(),
        fo.clone(),
        "predict.seeds differs".into(),
    ] {
        assert!(e.contains(&needle), "{e} lacks {needle}");
    }
    // b's summary.json says c, but its runs.csv was written by the other configuration (a
    // runs.csv copied between folders): refused even though the summaries agree.
    folder(&b, &[record(Arm::Bp, 1, 0.9)], &c, &fo);
    let e = merge(&[a.clone(), b.clone()], &out, "test")
        .err()
        .expect("a runs.csv of another run merged")
        .to_string();
    assert!(e.contains(&fo) && e.contains(&fc), "{e}");
    assert!(e.contains("runs.csv") && e.contains("summary.json"), "{e}");
    // A runs.csv mixing two configurations, and a config cell that is no fingerprint.
    let text = std::fs::read_to_string(a.join("runs.csv")).unwrap();
    let mixed = text.replace("bp,0,", "bp,1,")
        + &format!("bp,5,0.900000,0.900000,0.000000,0.300000,1.000,10,no,{fo}\n");
    std::fs::write(b.join("runs.csv"), mixed).unwrap();
    let e = merge(&[a.clone(), b.clone()], &out, "test")
        .err()
        .expect("a runs.csv of two configurations merged")
        .to_string();
    assert!(e.contains(&fo), "{e}");
    std::fs::write(b.join("runs.csv"), text.replace(&fc, "run-7")).unwrap();
    let e = merge(&[a.clone(), b.clone()], &out, "test")
        .err()
        .expect("a bad config cell merged")
        .to_string();
    assert!(e.contains("config \"run-7\""), "{e}");
    assert!(!out.exists(), "a refused merge writes nothing");
    // The same configuration in both: merged, no warning, the column carried over.
    folder(&b, &[record(Arm::Bp, 1, 0.8)], &c, &fc);
    let m = merge(&[a.clone(), b.clone()], &out, "test").unwrap();
    assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    let t = read_csv(&out.join("runs.csv")).unwrap();
    assert!(t.rows.iter().all(|r| r[9] == fc), "{:?}", t.rows);
    let summary = read_json(&out.join("summary.json")).unwrap();
    assert_eq!(summary["config_fingerprint"], serde_json::json!(fc));
    std::fs::remove_dir_all(&base).unwrap();
}

/// The `runs.csv` of a folder in the format before the `config` column: the new file's first
/// nine columns.
fn drop_config_column(dir: &Path) {
    let text = std::fs::read_to_string(dir.join("runs.csv")).unwrap();
    let old: String = text
        .lines()
        .map(|l| l.rsplit_once(',').unwrap().0.to_string() + "\n")
        .collect();
    assert!(old.starts_with("arm,seed,") && old.lines().next().unwrap().ends_with(",diverged"));
    std::fs::write(dir.join("runs.csv"), old).unwrap();
}

#[test]
fn a_runs_csv_without_the_config_column_still_merges_with_a_warning() {
    let base = temp_dir("old");
    let c = ExperimentConfig::preset(Preset::Quick);
    let fc = c.fingerprint();
    let (a, b) = (base.join("a"), base.join("b"));
    folder(&a, &[record(Arm::Bp, 0, 0.9)], &c, &fc);
    folder(&b, &[record(Arm::Bp, 1, 0.8)], &c, &fc);
    drop_config_column(&b);
    let (_, rs) = read_runs(&b.join("runs.csv")).unwrap();
    assert_eq!(rs, [record(Arm::Bp, 1, 0.8)]);
    let out = base.join("out");
    let m = merge(&[a.clone(), b.clone()], &out, "test").unwrap();
    assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
    assert!(
        m.warnings[0].contains(&b.join("runs.csv").display().to_string())
            && m.warnings[0].contains("no config column"),
        "{:?}",
        m.warnings
    );
    // The merged file is in the current format, its old rows filled in from summary.json.
    let t = read_csv(&out.join("runs.csv")).unwrap();
    assert_eq!(t.headers.last().unwrap(), "config");
    assert!(t.rows.iter().all(|r| r[9] == fc), "{:?}", t.rows);
    // ... and the old folder's configuration is still checked, by its summary.json.
    let mut other = c.clone();
    other.mlp.batch += 1;
    folder(&b, &[record(Arm::Bp, 1, 0.8)], &other, &other.fingerprint());
    drop_config_column(&b);
    let e = merge(&[a, b], &base.join("out2"), "test")
        .err()
        .expect("an old folder of another configuration merged")
        .to_string();
    assert!(e.contains("mlp.batch differs"), "{e}");
    std::fs::remove_dir_all(&base).unwrap();
}

fn column<'a>(t: &'a grad_instructor::report::table::Table, name: &str) -> Vec<&'a str> {
    let at = t.headers.iter().position(|h| h == name).unwrap();
    t.rows.iter().map(|r| r[at].as_str()).collect()
}

/// Through the binary: a `--quick` run's three CSV files carry its fingerprint on every row,
/// its ENN seed where an ENN was used, and the ENN file records both; `--merge` of a folder in
/// the old format says so on stderr and succeeds.
#[test]
fn mnist_enn_outputs_record_the_fingerprint_and_seed_and_merge_warns_on_old_files() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("cli");
    let out = dir.join("quick");
    let args: Vec<std::ffi::OsString> = vec![
        "--quick".into(),
        "--quiet".into(),
        "--no-explain".into(),
        "--predict-enn".into(),
        "0".into(),
        "--enn-seed".into(),
        "7".into(),
        "--data".into(),
        mnist_data().into(),
        "--out".into(),
        out.clone().into(),
    ];
    let o = run(&exe, &args);
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let summary = read_json(&out.join("summary.json")).unwrap();
    let fp = summary["config_fingerprint"].as_str().unwrap().to_string();
    assert_eq!(summary["enn_seed"], serde_json::json!(7));
    for (file, enn_seed) in [
        ("runs.csv", false),
        ("grad_norms.csv", true),
        ("enn_training.csv", true),
    ] {
        let t = read_csv(&out.join(file)).unwrap();
        assert!(!t.rows.is_empty(), "{file}");
        assert!(column(&t, "config").iter().all(|f| *f == fp), "{file}");
        if enn_seed {
            assert!(column(&t, "enn_seed").iter().all(|s| *s == "7"), "{file}");
        }
    }
    let enn = grad_instructor::io::safetensors::load_checked(&out.join("enn.safetensors")).unwrap();
    assert_eq!(enn.meta("config_fingerprint"), Some(fp.as_str()));
    assert_eq!(enn.meta("seed"), Some("7"));

    drop_config_column(&out);
    let merged = dir.join("merged");
    let o = run(
        &exe,
        &[
            "--merge".as_ref(),
            out.as_os_str(),
            "--out".as_ref(),
            merged.as_os_str(),
        ],
    );
    let (_, stderr) = texts(&o);
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("warning: ") && l.contains("no config column")),
        "{stderr}"
    );
    let t = read_csv(&merged.join("runs.csv")).unwrap();
    assert!(column(&t, "config").iter().all(|f| *f == fp));

    // A folder of another configuration beside it: one error line naming both fingerprints.
    let other = dir.join("other");
    let mut args2 = args.clone();
    args2[6] = "8".into();
    *args2.last_mut().unwrap() = other.clone().into();
    args2.extend([
        "--arms".into(),
        "bp".into(),
        "--seed-start".into(),
        "50".into(),
    ]);
    let o = run(&exe, &args2);
    assert_eq!(o.status.code(), Some(0), "{}", texts(&o).1);
    let fo = read_json(&other.join("summary.json")).unwrap()["config_fingerprint"]
        .as_str()
        .unwrap()
        .to_string();
    let o = run(
        &exe,
        &[
            "--merge".as_ref(),
            format!("{},{}", out.display(), other.display()).as_ref(),
            "--out".as_ref(),
            dir.join("merged2").as_os_str(),
        ],
    );
    assert_one_error_line(&o, "merge of two configurations", &[&fp, &fo, "differs"]);
    std::fs::remove_dir_all(&dir).unwrap();
}
