//! The study's statistics and report: every stage's table from the rows, the selections
//! (by [`rules`](mod@super::rules)) and the verdict.
//!
//! * [`paired`](mod@paired): a cell's rows as accuracies by MLP seed; paired A − B with its bootstrap CI
//!   and paired t-test.
//! * [`select`]: what the rules of stages 1–3 are fed, and what they select.
//! * [`confirm`]: stage 4's comparisons per ENN seed and stage 5's verdict.
//! * [`tables`]: the report's tables (one comparison-row writer for all of them).
//! * [`report`]: `study.md` and `study.html`, one section per stage.

pub mod confirm;
pub mod paired;
pub mod report;
pub mod select;
pub mod tables;

pub use confirm::{confirmation, study_verdict, Confirmation};
pub use paired::{accuracy, by_seed, paired, EnnSeeds, Paired};
pub use report::write_report;
pub use select::{best_control, regime, regime_candidates, selected_variant, variant_gains};
