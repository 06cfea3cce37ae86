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
