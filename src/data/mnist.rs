//! MNIST: loading the four IDX files, validation splits, normalization and seeded
//! mini-batches.
//!
//! * Where the files are found ([`Mnist::locate`]): an explicit directory (the examples'
//!   `--data`), else `$GI_MNIST_DIR`, else `data/mnist` under the current directory, else
//!   under the crate's own directory (where the shipped copy lives). The error lists every
//!   place it looked.
//! * Pixels are scaled to [0, 1] by `p / 255` (so 255 is exactly 1.0). [`MNIST_MEAN`] and
//!   [`MNIST_STD`] are the usual statistics of the training pixels at that scale (0.1307,
//!   0.3081, as in the PyTorch examples), for [`Dataset::normalize`]; our experiments do not
//!   normalize, matching the PyTorch cross-check.
//! * [`Dataset::split_validation`] shuffles indices with the caller's seeded RNG
//!   (Fisher–Yates) and cuts: the same seed gives the same split on every machine that has
//!   the same `rand` version.
//! * [`Batcher`] draws a new order per epoch and gathers each batch into one reused tensor,
//!   so training allocates nothing per batch and binds the batch on the tape without a copy.

use super::idx::{read_idx_file, IdxArray};
use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rand::Rng;
use std::path::{Path, PathBuf};

/// Mean pixel value of the MNIST training images after scaling to [0, 1] (the value used by
/// the PyTorch MNIST examples).
pub const MNIST_MEAN: f32 = 0.1307;
/// Standard deviation of the MNIST training pixels after scaling to [0, 1].
pub const MNIST_STD: f32 = 0.3081;

/// Number of classes (digits 0 to 9).
pub const MNIST_CLASSES: u32 = 10;

/// Standard file names, without the `.gz` suffix.
const TRAIN_IMAGES: &str = "train-images-idx3-ubyte";
const TRAIN_LABELS: &str = "train-labels-idx1-ubyte";
const TEST_IMAGES: &str = "t10k-images-idx3-ubyte";
const TEST_LABELS: &str = "t10k-labels-idx1-ubyte";

/// Labelled examples: `images` is `n × dim`, row-major, one image per row.
#[derive(Clone, Debug, PartialEq)]
pub struct Dataset {
    /// `n × dim` pixel values, row-major.
    pub images: Vec<f32>,
    /// `n` class labels.
    pub labels: Vec<u32>,
    /// Values per image (784 for MNIST).
    pub dim: usize,
}

impl Dataset {
    /// Number of examples.
    pub fn len(&self) -> usize {
        self.labels.len()
    }

    /// Whether there are no examples.
    pub fn is_empty(&self) -> bool {
        self.labels.is_empty()
    }

    /// Image `i` as a `dim`-long slice.
    ///
    /// # Panics
    /// If `i >= self.len()`, like slice indexing.
    pub fn image(&self, i: usize) -> &[f32] {
        &self.images[i * self.dim..(i + 1) * self.dim]
    }

    /// A new dataset holding copies of the examples at `indices`, in that order.
    ///
    /// # Panics
    /// If an index is out of range, like slice indexing.
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut images = Vec::with_capacity(indices.len() * self.dim);
        let mut labels = Vec::with_capacity(indices.len());
        for &i in indices {
            images.extend_from_slice(self.image(i));
            labels.push(self.labels[i]);
        }
        Dataset {
            images,
            labels,
            dim: self.dim,
        }
    }

    /// The first `n` examples (all of them if `n >= len`), copied.
    pub fn take(&self, n: usize) -> Dataset {
        let n = n.min(self.len());
        Dataset {
            images: self.images[..n * self.dim].to_vec(),
            labels: self.labels[..n].to_vec(),
            dim: self.dim,
        }
    }

    /// Shuffles the example order with `rng` (Fisher–Yates) and splits it into
    /// `(train, validation)` with `n_val` validation examples. Both keep the shuffled order.
    /// Error if `n_val > len`.
    pub fn split_validation(&self, n_val: usize, rng: &mut impl Rng) -> Result<(Dataset, Dataset)> {
        if n_val > self.len() {
            return Err(Error::invalid(
                "Dataset::split_validation",
                format!("{n_val} validation examples requested from {}", self.len()),
            ));
        }
        let mut order: Vec<usize> = (0..self.len()).collect();
        fisher_yates(&mut order, rng);
        let (val, train) = order.split_at(n_val);
        Ok((self.subset(train), self.subset(val)))
    }

    /// A fingerprint of the examples: their number, their width and the CRC-32 of the
    /// width, the labels (u32 little-endian) and the pixels (f32 little-endian bit patterns),
    /// in that order. Two data sets with the same fingerprint hold, with overwhelming
    /// probability for accidental differences, the same examples in the same order: what a
    /// resumed run checks against the data its checkpoint was trained on.
    pub fn fingerprint(&self) -> DatasetFingerprint {
        let mut crc = flate2::Crc::new();
        crc.update(&(self.dim as u64).to_le_bytes());
        let mut buf = Vec::with_capacity(4096);
        let labels = self.labels.iter().map(|l| l.to_le_bytes());
        let pixels = self.images.iter().map(|x| x.to_le_bytes());
        for word in labels.chain(pixels) {
            buf.extend_from_slice(&word);
            if buf.len() >= 4096 {
                crc.update(&buf);
                buf.clear();
            }
        }
        crc.update(&buf);
        DatasetFingerprint {
            examples: self.len(),
            dim: self.dim,
            crc32: crc.sum(),
        }
    }

    /// In place `x <- (x - mean) / std` for every pixel. (`std == 0` gives infinities and
    /// NaN, as the formula does.)
    pub fn normalize(&mut self, mean: f32, std: f32) {
        self.images.iter_mut().for_each(|x| *x = (*x - mean) / std);
    }
}

/// What [`Dataset::fingerprint`] computes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DatasetFingerprint {
    /// Number of examples.
    pub examples: usize,
    /// Values per example.
    pub dim: usize,
    /// CRC-32 of the width, the labels and the pixels.
    pub crc32: u32,
}

impl std::fmt::Display for DatasetFingerprint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} examples x {}, CRC-32 {:08x}",
            self.examples, self.dim, self.crc32
        )
    }
}

/// Uniform random permutation in place: for i from n-1 down to 1, swap `v[i]` with `v[j]`,
/// j uniform in 0..=i. Written out (rather than `SliceRandom::shuffle`) so the sequence of
/// draws, and hence the order for a given seed, is fixed by this code.
fn fisher_yates<T>(v: &mut [T], rng: &mut impl Rng) {
    for i in (1..v.len()).rev() {
        let j = rng.gen_range(0..=i);
        v.swap(i, j);
    }
}

/// The MNIST training (60000) and test (10000) sets, pixels scaled to [0, 1].
#[derive(Clone, Debug, PartialEq)]
pub struct Mnist {
    /// The 60000 training examples.
    pub train: Dataset,
    /// The 10000 test examples.
    pub test: Dataset,
}

impl Mnist {
    /// Loads the four standard files (`train-images-idx3-ubyte`, ... each `.gz` or raw) from
    /// `dir`. Pixels are scaled to [0, 1] (`p / 255`).
    pub fn load(dir: &Path) -> Result<Mnist> {
        if !dir.is_dir() {
            return Err(Error::io(
                dir,
                std::io::Error::new(
                    std::io::ErrorKind::NotFound,
                    "MNIST directory not found (expected the four MNIST IDX files in it)",
                ),
            ));
        }
        Ok(Mnist {
            train: load_split(dir, TRAIN_IMAGES, TRAIN_LABELS)?,
            test: load_split(dir, TEST_IMAGES, TEST_LABELS)?,
        })
    }

    /// Finds the MNIST directory: `explicit` if given; else `$GI_MNIST_DIR`; else
    /// `data/mnist` under the current directory; else `data/mnist` under this crate's source
    /// directory. A candidate counts if it holds the training-images file (`.gz` or raw).
    /// Error lists every place looked.
    pub fn locate(explicit: Option<&Path>) -> Result<PathBuf> {
        let mut candidates: Vec<(String, PathBuf)> = Vec::new();
        if let Some(p) = explicit {
            candidates.push(("given explicitly".into(), p.to_path_buf()));
        } else {
            if let Some(p) = std::env::var_os("GI_MNIST_DIR") {
                candidates.push(("from $GI_MNIST_DIR".into(), PathBuf::from(p)));
            }
            if let Ok(cwd) = std::env::current_dir() {
                candidates.push(("under the current directory".into(), cwd.join("data/mnist")));
            }
            candidates.push((
                "under the crate directory".into(),
                Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist"),
            ));
        }
        for (_, dir) in &candidates {
            if find_file(dir, TRAIN_IMAGES).is_some() {
                return Ok(dir.clone());
            }
        }
        let looked = candidates
            .iter()
            .map(|(why, p)| format!("{} ({why})", p.display()))
            .collect::<Vec<_>>()
            .join("; ");
        Err(Error::invalid(
            "Mnist::locate",
            format!(
                "no MNIST files ({TRAIN_IMAGES}[.gz], ...) found; looked in: {looked}. \
                 Pass the directory explicitly or set GI_MNIST_DIR."
            ),
        ))
    }
}

/// `dir/name.gz` if it exists, else `dir/name` if it exists.
fn find_file(dir: &Path, name: &str) -> Option<PathBuf> {
    [format!("{name}.gz"), name.to_string()]
        .into_iter()
        .map(|f| dir.join(f))
        .find(|p| p.is_file())
}

fn open_idx(dir: &Path, name: &str) -> Result<(PathBuf, IdxArray)> {
    let path = find_file(dir, name).ok_or_else(|| {
        Error::io(
            dir.join(format!("{name}.gz")),
            std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("neither {name}.gz nor {name} exists in {}", dir.display()),
            ),
        )
    })?;
    let idx = read_idx_file(&path)?;
    Ok((path, idx))
}

/// Loads one images/labels pair and checks they agree.
fn load_split(dir: &Path, images_name: &str, labels_name: &str) -> Result<Dataset> {
    let (img_path, img) = open_idx(dir, images_name)?;
    let (lab_path, lab) = open_idx(dir, labels_name)?;
    if img.dims.len() != 3 {
        return Err(Error::format(
            &img_path,
            Some(0),
            format!(
                "wrong magic number 0x{:08x}, expected 0x00000803 (images, rank 3)",
                img.magic()
            ),
        ));
    }
    if lab.dims.len() != 1 {
        return Err(Error::format(
            &lab_path,
            Some(0),
            format!(
                "wrong magic number 0x{:08x}, expected 0x00000801 (labels, rank 1)",
                lab.magic()
            ),
        ));
    }
    let (n, dim) = (img.dims[0], img.dims[1] * img.dims[2]);
    if lab.dims[0] != n {
        return Err(Error::format(
            &img_path,
            None,
            format!(
                "image/label count mismatch: {} holds {n} images, {} holds {} labels",
                img_path.display(),
                lab_path.display(),
                lab.dims[0]
            ),
        ));
    }
    if let Some(i) = lab.data.iter().position(|&l| u32::from(l) >= MNIST_CLASSES) {
        let header = 8; // magic + one dimension
        return Err(Error::format(
            &lab_path,
            Some(header + i as u64),
            format!(
                "label {} of example {i} is outside 0..={}",
                lab.data[i],
                MNIST_CLASSES - 1
            ),
        ));
    }
    // p / 255 is correctly rounded, so pixel 255 maps to exactly 1.0 and 0 to 0.0.
    let images = img.data.iter().map(|&p| f32::from(p) / 255.0).collect();
    let labels = lab.data.iter().map(|&l| u32::from(l)).collect();
    Ok(Dataset {
        images,
        labels,
        dim,
    })
}

/// Seeded shuffled mini-batches without per-batch allocation: the index order and the
/// batch buffers are allocated once and reused.
///
/// One epoch: [`Batcher::shuffle`], then [`Batcher::next_batch`] until it returns `None`.
/// Every example appears exactly once per epoch; the last batch is partial when
/// `batch_size` does not divide the example count (PyTorch's `drop_last=False`).
#[derive(Clone, Debug)]
pub struct Batcher {
    /// The example order of the current epoch.
    order: Vec<usize>,
    /// Position in `order` of the next batch's first example.
    cursor: usize,
    batch_size: usize,
    dim: usize,
    /// `len × dim` gathered images, reused for every batch: a tensor, so the training loop
    /// can bind it on the tape without another copy (reshaped, not reallocated, for the
    /// shorter last batch).
    x: Tensor,
    /// `batch_size` gathered labels.
    labels: Vec<u32>,
}

impl Batcher {
    /// A batcher over `n_examples` examples of `dim` values each, in order 0..n until the
    /// first [`Batcher::shuffle`]. A `batch_size` of 0 yields no batches.
    pub fn new(n_examples: usize, batch_size: usize, dim: usize) -> Batcher {
        let cap = batch_size.min(n_examples);
        Batcher {
            order: (0..n_examples).collect(),
            cursor: 0,
            batch_size,
            dim,
            x: Tensor::from_vec(vec![0.0; cap * dim], &[cap, dim]).expect("cap * dim elements"),
            labels: vec![0; cap],
        }
    }

    /// Draws a new example order (Fisher–Yates with `rng`) and rewinds to the start of the
    /// epoch. Call once per epoch.
    pub fn shuffle(&mut self, rng: &mut impl Rng) {
        fisher_yates(&mut self.order, rng);
        self.cursor = 0;
    }

    /// Batches per epoch, counting the last partial one.
    pub fn batches_per_epoch(&self) -> usize {
        if self.batch_size == 0 {
            0
        } else {
            self.order.len().div_ceil(self.batch_size)
        }
    }

    /// The next batch of the epoch, gathered from `ds` into the reused buffers; `None` at the
    /// end of the epoch (which also rewinds, so the next call starts the same order again).
    ///
    /// # Panics
    /// If `ds` does not match the sizes given to [`Batcher::new`] (example count and `dim`):
    /// that is a programming error, not bad input.
    pub fn next_batch<'a>(&'a mut self, ds: &Dataset) -> Option<Batch<'a>> {
        assert!(
            ds.len() == self.order.len() && ds.dim == self.dim,
            "Batcher built for {} examples of dim {}, given a dataset of {} examples of dim {}",
            self.order.len(),
            self.dim,
            ds.len(),
            ds.dim
        );
        if self.batch_size == 0 || self.cursor >= self.order.len() {
            self.cursor = 0;
            return None;
        }
        let end = (self.cursor + self.batch_size).min(self.order.len());
        let len = end - self.cursor;
        let dim = self.dim;
        if self.x.dims()[0] != len {
            // Resize within the existing capacity (only the last batch of an epoch differs).
            // The placeholder is an empty Vec: no allocation.
            let empty = Tensor::from_vec(Vec::new(), &[0]).expect("an empty tensor");
            let mut buf = std::mem::replace(&mut self.x, empty).into_vec();
            buf.resize(len * dim, 0.0);
            self.x = Tensor::from_vec(buf, &[len, dim]).expect("len * dim elements");
        }
        let x = self.x.data_mut();
        for (slot, &i) in self.order[self.cursor..end].iter().enumerate() {
            x[slot * dim..(slot + 1) * dim].copy_from_slice(ds.image(i));
            self.labels[slot] = ds.labels[i];
        }
        self.cursor = end;
        Some(Batch {
            x: self.x.data(),
            tensor: &self.x,
            labels: &self.labels[..len],
            len,
        })
    }
}

/// One mini-batch, borrowed from the [`Batcher`]'s buffers.
#[derive(Clone, Copy, Debug)]
pub struct Batch<'a> {
    /// `len × dim` images, row-major.
    pub x: &'a [f32],
    /// The same images as a `[len, dim]` tensor.
    pub tensor: &'a Tensor,
    /// `len` labels.
    pub labels: &'a [u32],
    /// Examples in this batch (`batch_size`, or fewer for the last one).
    pub len: usize,
}
