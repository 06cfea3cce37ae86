//! The memory budget (issue 15): configurations that cannot fit are refused with one error
//! naming the estimate, what dominates it and the memory available; the default and quick
//! configurations pass it comfortably.

mod common;

use common::bin::{assert_one_error_line, mnist_data, mnist_enn_exe};
use common::temp_dir;
use grad_instructor::experiment::budget::{self, DataShape};
use grad_instructor::experiment::{ExperimentConfig, Preset};
use std::process::Command;

const MNIST: DataShape = DataShape {
    train: 60_000,
    test: 10_000,
    dim: 784,
};
const GB: u128 = 1 << 30;

fn shape_of(cfg: &ExperimentConfig) -> DataShape {
    DataShape {
        train: cfg.data.train_limit.unwrap_or(MNIST.train),
        test: cfg.data.test_limit.unwrap_or(MNIST.test),
        ..MNIST
    }
}

#[test]
fn default_and_quick_configs_need_well_under_a_gigabyte() {
    for preset in Preset::ALL {
        let cfg = ExperimentConfig::preset(preset);
        let est = budget::estimate(&cfg, shape_of(&cfg));
        assert!(est.total() < GB, "{preset:?}: {:?}", est);
        // The data alone: 70000 MNIST images of 784 f32 plus the ENN's split.
        if preset == Preset::Default {
            assert!(est.total() > 200 << 20, "{preset:?}: {:?}", est);
        }
        assert!(budget::check(&cfg, shape_of(&cfg), Some(GB)).is_ok());
    }
}

/// The issue's abort cases, bypassing `validate` (which caps them first): each estimate is
/// far beyond this machine's memory, computed without wrapping, and refused naming the field
/// that dominates.
#[test]
fn the_issues_abort_cases_are_refused_naming_what_dominates() {
    let base = ExperimentConfig::preset(Preset::Default);
    let mut batch = base.clone();
    batch.mlp.batch = 1_000_000_000;
    let mut episodes = base.clone();
    episodes.enn.episodes = 1_000_000_000_000;
    let mut seeds = base.clone();
    seeds.seeds = 1_000_000_000;
    let mut hidden = base.clone();
    hidden.mlp.hidden = vec![3_000_000];
    let mut wide = base.clone();
    wide.mlp.hidden = vec![60_000, 60_000];
    let mut all_huge = base.clone();
    all_huge.mlp.hidden = vec![65_536; 50];
    all_huge.mlp.batch = usize::MAX;
    all_huge.seeds = u64::MAX;
    all_huge.enn.episodes = usize::MAX;
    for (cfg, field, at_least) in [
        (&batch, "mlp.batch", 1000 * GB),
        (&episodes, "enn.episodes", 50 * 1000 * GB),
        (&seeds, "seeds", 1000 * GB),
        (&hidden, "mlp.hidden", 9 * GB),
        (&wide, "mlp.hidden", 24 * GB),
        (&all_huge, "mlp.batch", 1 << 80),
    ] {
        let est = budget::estimate(cfg, MNIST);
        assert!(
            est.total() >= at_least,
            "{field}: {}",
            budget::human(est.total())
        );
        let e = budget::check(cfg, MNIST, Some(24 * GB)).unwrap_err();
        assert_eq!(e.field, field, "{e}");
        assert!(e.reason.contains("needs an estimated"), "{e}");
        assert!(e.reason.contains("24.0 GB of memory available"), "{e}");
        assert!(
            e.reason.contains(&budget::human(est.dominant().bytes)),
            "{e}"
        );
    }
}

#[test]
fn unknown_memory_is_accepted_and_a_tight_override_refuses() {
    let cfg = ExperimentConfig::preset(Preset::Quick);
    assert!(budget::check(&cfg, shape_of(&cfg), None).is_ok());
    assert!(budget::check(&cfg, shape_of(&cfg), Some(1 << 20)).is_err());
}

#[test]
fn sizes_and_meminfo_parse() {
    assert_eq!(budget::parse_bytes("2G"), Ok(2 << 30));
    assert_eq!(budget::parse_bytes("512m"), Ok(512 << 20));
    assert_eq!(budget::parse_bytes("1.5K"), Ok(1536));
    assert_eq!(budget::parse_bytes("4096"), Ok(4096));
    for bad in ["", "G", "-1G", "0", "abc", "nanG", "1e30T"] {
        assert!(budget::parse_bytes(bad).is_err(), "{bad:?}");
    }
    let meminfo = "MemTotal:       24000000 kB\nMemFree:  100 kB\nMemAvailable:   20000000 kB\n";
    assert_eq!(budget::parse_meminfo(meminfo), Some(20_000_000 * 1024));
    assert_eq!(budget::parse_meminfo("MemTotal: 1 kB\n"), None);
    assert_eq!(budget::human(1536 << 20), "1.5 GB");
}

/// Through the binary: a configuration over budget (too wide for this machine, or over a
/// `--max-memory` override) is one `error:` line naming the flag, exit 1, nothing written.
#[test]
fn mnist_enn_refuses_a_run_over_budget_with_one_line() {
    let Some(exe) = mnist_enn_exe() else { return };
    let dir = temp_dir("budget");
    let out_dir = dir.join("out");
    let data = mnist_data();
    let cases: &[(&[&str], &[&str])] = &[
        (
            &["--quick", "--hidden", "60000,60000", "--arms", "bp"],
            &["--hidden 60000,60000", "needs an estimated"],
        ),
        (
            &["--quick", "--max-memory", "10M"],
            &[
                "--max-memory 10485760",
                "needs an estimated",
                "10.0 MB of memory available",
            ],
        ),
        (&["--quick", "--max-memory", "lots"], &["--max-memory"]),
    ];
    for (args, expected) in cases {
        let out = Command::new(&exe)
            .args(*args)
            .arg("--quiet")
            .arg("--data")
            .arg(&data)
            .arg("--out")
            .arg(&out_dir)
            .output()
            .unwrap();
        assert_one_error_line(&out, &format!("{args:?}"), expected);
        assert!(!out_dir.exists(), "{args:?} wrote {}", out_dir.display());
    }
    let _ = std::fs::remove_dir_all(&dir);
}
