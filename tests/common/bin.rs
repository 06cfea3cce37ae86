//! Running the `mnist_enn` example from integration tests (tests/budget.rs,
//! tests/robustness_cli.rs, tests/robustness_divergence.rs): its path, the shipped data, one
//! run, and the check that a refusal is one `error:` line with exit 1.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The example binary's path, or `None` (with a note) when no release build of it exists:
/// these tests build nothing (`cargo test --release` builds the examples first).
pub fn mnist_enn_exe() -> Option<PathBuf> {
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

/// The MNIST copy shipped in the repository.
pub fn mnist_data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist")
}

/// Runs `exe` with `args` to completion.
pub fn run<S: AsRef<std::ffi::OsStr>>(exe: &Path, args: &[S]) -> Output {
    Command::new(exe).args(args).output().unwrap()
}

/// The run's stdout and stderr as text.
pub fn texts(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Asserts that `out` is a refusal: exit status 1 and exactly one stderr line, starting with
/// `error: ` and containing each of `expected`. Returns that line.
pub fn assert_one_error_line(out: &Output, what: &str, expected: &[&str]) -> String {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
    assert_eq!(stderr.lines().count(), 1, "{what}: {stderr}");
    assert!(stderr.starts_with("error: "), "{what}: {stderr}");
    for e in expected {
        assert!(stderr.contains(e), "{what}: {stderr:?} lacks {e:?}");
    }
    stderr.trim_end().to_string()
}
