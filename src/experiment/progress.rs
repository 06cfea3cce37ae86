//! How the library reports progress: a front end implements [`Progress`] (a terminal bar, plain
//! lines, nothing) and the runner calls it. The library never prints.

use super::validate::ConfigWarning;

/// Receives progress reports. Called from worker threads, hence `Sync`.
pub trait Progress: Sync {
    /// A phase of `total` units starts (episodes, epochs of runs).
    fn start(&self, phase: &str, total: u64) {
        let _ = (phase, total);
    }
    /// `units` more units of the current phase are done; `message` says what.
    fn advance(&self, units: u64, message: &str) {
        let _ = (units, message);
    }
    /// The current phase ended.
    fn finish(&self) {}
    /// A one-off remark (what was loaded, what is skipped, a legal but surprising setting).
    fn note(&self, message: &str) {
        let _ = message;
    }
    /// A legal but surprising setting (shown even when progress is silenced).
    fn warn(&self, warning: &ConfigWarning) {
        let _ = warning;
    }
}

/// Reports nothing.
#[derive(Clone, Copy, Debug, Default)]
pub struct Silent;

impl Progress for Silent {}
