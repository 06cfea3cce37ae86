//! Datasets: the IDX file format and the MNIST loader.
//!
//! This layer sits on [`crate::tensor`] beside [`crate::io`]; it hands out plain `f32`
//! buffers and knows nothing of autodiff or models.

pub mod idx;
pub mod mnist;

pub use idx::{encode_idx, parse_idx, read_idx, read_idx_file, IdxArray};
pub use mnist::{
    Batch, Batcher, Dataset, DatasetFingerprint, Mnist, MNIST_CLASSES, MNIST_MEAN, MNIST_STD,
};
