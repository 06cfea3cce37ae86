//! Small statistics over f64 samples: mean, standard deviation, Welch's t-test, Spearman.
