//! Datasets: the IDX file format and the MNIST loader.
