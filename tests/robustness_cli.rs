//! Robustness of the `mnist_enn` example on bad input: one `error:` line and exit 1, flags
//! named with their values (moved from tests/robustness.rs).

mod common;

use common::bin::{assert_one_error_line, mnist_data, mnist_enn_exe, texts};
use common::temp_dir;
use std::process::Command;

/// The example binary itself, if a release build of it exists (this test builds nothing):
/// a bad flag, a missing data folder and a truncated IDX file each print one `error:` line
/// on stderr and exit with status 1.
#[test]
fn mnist_enn_example_prints_one_line_and_exits_1_on_bad_input() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("example");
    let truncated = dir.join("mnist");
    std::fs::create_dir_all(&truncated).unwrap();
    std::fs::write(truncated.join("train-images-idx3-ubyte"), [0u8, 0, 8, 3, 0]).unwrap();
    let out_dir = dir.join("out");
    let cases: [&[&str]; 3] = [
        &["--no-such-flag"],
        &["--data", "/nonexistent/gi-robustness/mnist"],
        &["--data", truncated.to_str().unwrap()],
    ];
    for args in cases {
        let out = Command::new(&exe)
            .args(args)
            .args(["--out", out_dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert_one_error_line(&out, &format!("{args:?}"), &[]);
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Issue 15's flag cases: each is one `error:` line naming the flag and the value, exit 1,
/// before any work (nothing is written to `--out`).
#[test]
fn mnist_enn_rejects_out_of_range_flags_naming_flag_and_value() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("example-flags");
    let out_dir = dir.join("out");
    let cases: &[(&[&str], &[&str])] = &[
        (&["--hidden", ""], &["--hidden", "\"\""]),
        (&["--hidden", ","], &["--hidden", "','"]),
        (&["--hidden", "100,,10"], &["--hidden", "100,,10"]),
        (&["--hidden", "100,abc"], &["--hidden", "abc"]),
        (&["--hidden", "0"], &["--hidden", "0"]),
        (&["--hidden", "3000000"], &["--hidden", "3000000"]),
        (&["--shard", "0/2/3"], &["--shard", "0/2/3"]),
        (&["--shard", "-1/2"], &["--shard", "-1/2"]),
        (&["--shard", "2/2"], &["--shard", "2/2"]),
        (&["--seeds", "0"], &["--seeds", "0"]),
        (&["--seeds", "-1"], &["--seeds", "-1"]),
        (&["--seeds", "1000000000"], &["--seeds", "1000000000"]),
        (
            &[
                "--seeds",
                "18446744073709551615",
                "--shard",
                "0/18446744073709551615",
            ],
            &["--seeds"],
        ),
        (
            &["--seed-start", "18446744073709551615", "--seeds", "2"],
            &["--seed-start", "overflows"],
        ),
        (&["--jobs", "0"], &["--jobs", "0"]),
        (&["--arms", "gi,gi,bp"], &["--arms", "twice"]),
        (&["--arms", "bp,bp"], &["--arms", "twice"]),
        (&["--l1", "-1"], &["--l1", "-1"]),
        (&["--episodes", "0", "--arms", "gi"], &["--episodes", "0"]),
        (&["--episodes", "1000000000000"], &["--episodes"]),
        (
            &["--decide-every", "0", "--enn-rule", "reinforce"],
            &["--decide-every", "0"],
        ),
        (&["--checkpoint-every", "0"], &["--checkpoint-every", "0"]),
        (&["--predict-episodes", "0"], &["--predict-episodes", "0"]),
        (&["--predict-enn", "1"], &["--predict-enn", "1"]),
        (
            &["--quick", "--predict-seeds", "0"],
            &["--predict-seeds", "0"],
        ),
        (&["--le", "nan"], &["--le", "NaN"]),
        (&["--le", "inf"], &["--le", "inf"]),
        (&["--tau", "inf"], &["--tau", "inf"]),
        (&["--lr", "1e39"], &["--lr", "overflow"]),
        (&["--batch", "1000000000"], &["--batch", "1000000000"]),
        (&["--merge", ""], &["--merge"]),
        (
            &["--merge", "a,b", "--lr", "5", "--seeds", "7"],
            &["--merge", "--lr", "--seeds"],
        ),
    ];
    for (args, expected) in cases {
        let out = Command::new(&exe)
            .args(*args)
            .args(["--out", out_dir.to_str().unwrap()])
            .output()
            .unwrap();
        assert_one_error_line(&out, &format!("{args:?}"), expected);
        assert!(!out_dir.exists(), "{args:?} wrote {}", out_dir.display());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `--arms bp` trains no ENN and runs no ENN study, and says so; a negative `--le` is
/// accepted with a warning; the run line names the data set.
#[test]
fn mnist_enn_without_gi_skips_the_enn_and_says_so() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("example-bp");
    let out_dir = dir.join("out");
    let out = Command::new(&exe)
        .args([
            "--quick", "--arms", "bp", "--seeds", "1", "--le", "-0.01", "--out",
        ])
        .arg(&out_dir)
        .arg("--data")
        .arg(mnist_data())
        .output()
        .unwrap();
    let (stdout, stderr) = texts(&out);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("skipping ENN training"), "{stderr}");
    assert!(stderr.contains("warning: --le -0.01"), "{stderr}");
    assert!(!stderr.contains("[enn "), "an ENN trained: {stderr}");
    assert!(stdout.contains("on MNIST"), "{stdout}");
    assert!(out_dir.join("runs.csv").exists());
    assert!(!out_dir.join("enn.safetensors").exists());
    assert!(!out_dir.join("enn_checkpoint").exists());
    // A second run into the same folder would mix two runs: refused before any work, unless
    // --force replaces the old one.
    let again = |force: bool| {
        let mut cmd = Command::new(&exe);
        cmd.args([
            "--quick", "--arms", "bp", "--seeds", "1", "--quiet", "--out",
        ])
        .arg(&out_dir)
        .arg("--data")
        .arg(mnist_data());
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    assert_one_error_line(&again(false), "a second run", &["not empty", "--force"]);
    assert_eq!(again(true).status.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Every file under `dir` (recursively) with its bytes.
fn snapshot(dir: &std::path::Path) -> std::collections::BTreeMap<std::path::PathBuf, Vec<u8>> {
    let mut files = std::collections::BTreeMap::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                todo.push(p);
            } else {
                files.insert(p.clone(), std::fs::read(&p).unwrap());
            }
        }
    }
    files
}

/// A `--force` run writes into `OUT.partial` and renames it to OUT only when it has finished:
/// one that fails (here: the `--enn` file has a flipped byte, found after the output folder
/// was prepared and the data loaded) leaves the previous run's folder byte for byte as it was
/// and no staging folder; one that finishes leaves only its own files (none of the old run's
/// ENN files beside a `bp`-only run).
#[test]
fn a_failed_forced_run_leaves_the_old_folder_byte_identical() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("force");
    let out_dir = dir.join("run");
    let quick = |extra: &[&std::ffi::OsStr]| {
        Command::new(&exe)
            .args(["--quick", "--quiet", "--no-explain", "--predict-enn", "0"])
            .arg("--data")
            .arg(mnist_data())
            .arg("--out")
            .arg(&out_dir)
            .args(extra)
            .output()
            .unwrap()
    };
    let first = quick(&[]);
    assert_eq!(first.status.code(), Some(0), "{}", texts(&first).1);
    let before = snapshot(&out_dir);
    assert!(before.contains_key(&out_dir.join("enn.safetensors")));
    assert!(before.contains_key(&out_dir.join("grad_norms.csv")));
    let mut enn = before[&out_dir.join("enn.safetensors")].clone();
    let last = enn.len() - 3;
    enn[last] ^= 0x10;
    let bad = dir.join("bad-enn.safetensors");
    std::fs::write(&bad, &enn).unwrap();
    let failed = quick(&["--force".as_ref(), "--enn".as_ref(), bad.as_os_str()]);
    assert_one_error_line(
        &failed,
        "a forced run with a damaged ENN",
        &["bad-enn.safetensors"],
    );
    assert_eq!(snapshot(&out_dir), before, "the old run changed");
    assert!(
        !dir.join("run.partial").exists(),
        "a staging folder was left"
    );
    let replaced = quick(&["--force".as_ref(), "--arms".as_ref(), "bp".as_ref()]);
    assert_eq!(replaced.status.code(), Some(0), "{}", texts(&replaced).1);
    let after = snapshot(&out_dir);
    for old in ["enn.safetensors", "grad_norms.csv", "enn_training.csv"] {
        assert!(
            !after.contains_key(&out_dir.join(old)),
            "{old} of the old run is left"
        );
    }
    let runs = String::from_utf8(after[&out_dir.join("runs.csv")].clone()).unwrap();
    assert!(runs.lines().skip(1).all(|l| l.starts_with("bp,")), "{runs}");
    assert!(!dir.join("run.partial").exists());
    std::fs::remove_dir_all(&dir).unwrap();
}

/// An interrupted run leaves its checkpoint in `OUT.partial` (OUT itself never appears);
/// `--resume OUT` continues from there and renames the finished folder to OUT.
#[test]
fn an_interrupted_run_resumes_from_its_staging_folder() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("resume");
    let out_dir = dir.join("run");
    let partial = dir.join("run.partial");
    let args = |cmd: &mut Command| {
        cmd.args(["--quick", "--no-explain", "--predict-enn", "0"])
            .args(["--episodes", "40", "--checkpoint-every", "2"])
            .arg("--data")
            .arg(mnist_data());
    };
    let mut cmd = Command::new(&exe);
    args(&mut cmd);
    let mut child = cmd
        .arg("--quiet")
        .arg("--out")
        .arg(&out_dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let ckpt = partial.join("enn_checkpoint/checkpoint.safetensors");
    let t = std::time::Instant::now();
    while !ckpt.exists() && t.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(ckpt.exists(), "no checkpoint in {}", partial.display());
    assert!(
        !out_dir.exists(),
        "an unfinished run appeared as {}",
        out_dir.display()
    );
    let mut cmd = Command::new(&exe);
    args(&mut cmd);
    let resumed = cmd.arg("--resume").arg(&out_dir).output().unwrap();
    let (_, stderr) = texts(&resumed);
    assert_eq!(resumed.status.code(), Some(0), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "resuming from {}",
            partial.join("enn_checkpoint").display()
        )),
        "{stderr}"
    );
    assert!(out_dir.join("runs.csv").exists() && out_dir.join("enn.safetensors").exists());
    assert!(!partial.exists());
    std::fs::remove_dir_all(&dir).unwrap();
}
