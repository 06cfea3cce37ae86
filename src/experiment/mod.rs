//! The experiment layer (placeholder until the experiment module lands on main).

pub mod progress;
pub mod study;
