//! Grad-Instructor: the Evaluation Neural Network, universal backpropagation, REINFORCE.
