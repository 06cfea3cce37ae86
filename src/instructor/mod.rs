//! Grad-Instructor: the Evaluation Neural Network, universal backpropagation, REINFORCE, and
//! the experiment that compares it with the baseline arms.

pub mod experiment;
