//! Robustness of the `mnist_enn` example on bad input: one `error:` line and exit 1, flags
//! named with their values (moved from tests/robustness.rs).

mod common;

use common::temp_dir;
use std::path::{Path, PathBuf};
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
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// The example binary's path, or `None` (with a note) when no release build of it exists.
fn mnist_enn_exe() -> Option<PathBuf> {
    let exe = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/release/examples/mnist_enn");
    if exe.exists() {
        Some(exe)
    } else {
        eprintln!(
            "note: {} not built; skipped (cargo build --release --example mnist_enn)",
            exe.display()
        );
        None
    }
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
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.starts_with("error: "), "{args:?}: {stderr}");
        for e in *expected {
            assert!(stderr.contains(e), "{args:?}: {stderr:?} lacks {e:?}");
        }
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
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"))
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
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
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"));
        if force {
            cmd.arg("--force");
        }
        cmd.output().unwrap()
    };
    let refused = again(false);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("not empty") && stderr.contains("--force"),
        "{stderr}"
    );
    assert_eq!(again(true).status.code(), Some(0));
    std::fs::remove_dir_all(&dir).unwrap();
}
