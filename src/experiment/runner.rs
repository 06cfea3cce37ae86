//! The parallel runner over (arm, seed) work lists.

use super::arm::{run_arm, Arm, RunResult, TrainConfig};
use super::progress::Progress;
use crate::data::Dataset;
use crate::error::Result;
use crate::instructor::EvaluationNet;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Trains `work` (arm, seed) pairs on `jobs` threads; results in the order of `work`.
///
/// Each run is deterministic in its (arm, seed), so the results do not depend on `jobs` or
/// on which thread ran what. Each finished epoch advances `progress` by one unit. The first
/// error stops the workers after their current run and is returned.
pub fn run_all(
    work: &[(Arm, u64)],
    cfg: &TrainConfig,
    jobs: usize,
    train: &Dataset,
    test: &Dataset,
    enn: Option<&EvaluationNet>,
    progress: &dyn Progress,
) -> Result<Vec<RunResult>> {
    let next = AtomicUsize::new(0);
    let results = Mutex::new(Vec::new());
    let first_error = Mutex::new(None);
    std::thread::scope(|scope| {
        for _ in 0..jobs.max(1).min(work.len()) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= work.len() || first_error.lock().unwrap().is_some() {
                    break;
                }
                let (arm, seed) = work[i];
                let on_epoch = |epoch: usize, loss: f64| {
                    progress.advance(
                        1,
                        &format!(
                            "[{:>2}/{}] {} seed {seed}: epoch {}/{} mean loss {loss:.4}",
                            i + 1,
                            work.len(),
                            arm.name(),
                            epoch + 1,
                            cfg.epochs
                        ),
                    );
                };
                match run_arm(arm, seed, cfg, train, test, enn, on_epoch) {
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
