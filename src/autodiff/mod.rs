//! Reverse-mode automatic differentiation: the tape.
