//! The IDX reader and MNIST loader: the real files, every malformed case, batching and
//! splitting.

mod common;

use common::alloc::{largest_allocation_of, TrackingAlloc};
use common::temp_dir;
use flate2::write::GzEncoder;
use flate2::Compression;
use grad_instructor::data::{
    encode_idx, parse_idx, read_idx_file, Batcher, Dataset, Mnist, MNIST_MEAN, MNIST_STD,
};
use grad_instructor::Error;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::io::Write;
use std::path::Path;

/// Records the largest single allocation of the current thread, so a test can show that a
/// hostile header does not make the reader allocate what it declares.
#[global_allocator]
static ALLOC: TrackingAlloc = TrackingAlloc;

fn mem() -> &'static Path {
    Path::new("test-input")
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut enc = GzEncoder::new(Vec::new(), Compression::default());
    enc.write_all(bytes).unwrap();
    enc.finish().unwrap()
}

/// The reason of a `Format` error, or a failure naming what came back instead.
fn format_reason<T: std::fmt::Debug>(r: grad_instructor::Result<T>) -> (Option<u64>, String) {
    match r {
        Err(Error::Format { offset, reason, .. }) => (offset, reason),
        other => panic!("expected a Format error, got {other:?}"),
    }
}

/// A valid 2x3x4 image-like file.
fn small_idx() -> Vec<u8> {
    encode_idx(&[2, 3, 4], &(0..24).collect::<Vec<u8>>()).unwrap()
}

// ---- the real MNIST files ----

#[test]
fn real_mnist_has_standard_counts_dims_labels_and_pixel_range() {
    let dir = Mnist::locate(None).unwrap();
    let m = Mnist::load(&dir).unwrap();
    assert_eq!((m.train.len(), m.test.len()), (60000, 10000));
    assert_eq!((m.train.dim, m.test.dim), (784, 784));
    assert_eq!(m.train.images.len(), 60000 * 784);
    assert_eq!(m.test.images.len(), 10000 * 784);
    // First labels as published (train starts 5 0 4 1 9, test starts 7 2 1 0 4).
    assert_eq!(&m.train.labels[..5], &[5, 0, 4, 1, 9]);
    assert_eq!(&m.test.labels[..5], &[7, 2, 1, 0, 4]);
    for ds in [&m.train, &m.test] {
        assert!(ds.labels.iter().all(|&l| l <= 9));
        // Every digit occurs.
        assert!((0..10).all(|d| ds.labels.contains(&d)));
        assert!(ds.images.iter().all(|&p| (0.0..=1.0).contains(&p)));
        // Background is exactly 0 and full ink exactly 1 (255 / 255).
        assert!(ds.images.contains(&0.0) && ds.images.contains(&1.0));
    }
    // The published normalization constants are the training mean and std to 4 digits.
    let n = m.train.images.len() as f64;
    let mean = m.train.images.iter().map(|&p| p as f64).sum::<f64>() / n;
    let var = m
        .train
        .images
        .iter()
        .map(|&p| (p as f64 - mean).powi(2))
        .sum::<f64>()
        / n;
    // 5e-5: the constants are rounded to 4 decimals.
    assert!((mean - MNIST_MEAN as f64).abs() < 5e-5, "mean {mean}");
    assert!(
        (var.sqrt() - MNIST_STD as f64).abs() < 5e-5,
        "std {}",
        var.sqrt()
    );
}

#[test]
fn real_mnist_idx_headers_read_directly() {
    let dir = Mnist::locate(None).unwrap();
    let labels = read_idx_file(&dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    assert_eq!(labels.dims, vec![10000]);
    assert_eq!(labels.magic(), 0x0801);
    let images = read_idx_file(&dir.join("t10k-images-idx3-ubyte.gz")).unwrap();
    assert_eq!(images.dims, vec![10000, 28, 28]);
    assert_eq!(images.magic(), 0x0803);
}

// ---- IDX: valid encodings ----

#[test]
fn idx_gzip_and_raw_read_identically() {
    let raw = small_idx();
    let a = parse_idx(&raw, mem()).unwrap();
    let b = parse_idx(&gzip(&raw), mem()).unwrap();
    assert_eq!(a, b);
    assert_eq!(a.dims, vec![2, 3, 4]);
    assert_eq!(a.data, (0..24).collect::<Vec<u8>>());
}

#[test]
fn idx_concatenated_gzip_members_read_as_one_stream() {
    let raw = small_idx();
    let (head, tail) = raw.split_at(7);
    let mut two = gzip(head);
    two.extend(gzip(tail));
    assert_eq!(parse_idx(&two, mem()).unwrap().data.len(), 24);
}

// ---- IDX: every malformed case ----

#[test]
fn idx_empty_file_is_an_error() {
    let (_, reason) = format_reason(parse_idx(&[], mem()));
    assert!(reason.contains("empty"), "{reason}");
    assert!(parse_idx(&gzip(&[]), mem()).is_err());
}

#[test]
fn idx_wrong_magic_is_an_error() {
    let mut b = small_idx();
    b[0] = 0x12;
    let (offset, reason) = format_reason(parse_idx(&b, mem()));
    assert_eq!(offset, Some(0));
    assert!(reason.contains("wrong magic number 0x12000803"), "{reason}");
    assert!(reason.contains("0x00000801 (labels)"), "{reason}");
}

#[test]
fn idx_unsupported_type_byte_is_an_error() {
    for t in [0x09u8, 0x0B, 0x0C, 0x0D, 0x0E, 0x00, 0xFF] {
        let mut b = small_idx();
        b[2] = t;
        let (offset, reason) = format_reason(parse_idx(&b, mem()));
        assert_eq!(offset, Some(2));
        assert!(reason.contains(&format!("0x{t:02x}")), "{reason}");
        assert!(reason.contains("only 0x08 (u8)"), "{reason}");
    }
    let mut b = small_idx();
    b[2] = 0x0D;
    let (_, reason) = format_reason(parse_idx(&b, mem()));
    assert!(reason.contains("wrong magic number 0x00000d03"), "{reason}");
    assert!(reason.contains("(f32)"), "{reason}");
}

#[test]
fn idx_rank_zero_or_above_four_is_an_error() {
    for rank in [0u8, 5, 255] {
        let mut b = small_idx();
        b[3] = rank;
        let (_, reason) = format_reason(parse_idx(&b, mem()));
        assert!(reason.contains(&format!("rank {rank}")), "{reason}");
    }
}

#[test]
fn idx_truncated_header_is_an_error() {
    let b = small_idx();
    // Every cut inside the 16-byte header (magic + 3 dims), raw and gzip.
    for cut in 1..16 {
        for bytes in [b[..cut].to_vec(), gzip(&b[..cut])] {
            let (_, reason) = format_reason(parse_idx(&bytes, mem()));
            assert!(reason.contains("truncated header"), "cut {cut}: {reason}");
        }
    }
}

#[test]
fn idx_truncated_data_is_an_error() {
    let b = small_idx();
    for bytes in [b[..16 + 10].to_vec(), gzip(&b[..16 + 10])] {
        let (offset, reason) = format_reason(parse_idx(&bytes, mem()));
        assert_eq!(offset, Some(26));
        assert!(
            reason.contains("declared 2x3x4 = 24 bytes, file holds 10"),
            "{reason}"
        );
    }
    // Header only, no data at all.
    let (_, reason) = format_reason(parse_idx(&b[..16], mem()));
    assert!(reason.contains("file holds 0"), "{reason}");
}

#[test]
fn idx_trailing_bytes_is_an_error() {
    let mut b = small_idx();
    b.extend_from_slice(&[1, 2, 3]);
    for bytes in [b.clone(), gzip(&b)] {
        let (offset, reason) = format_reason(parse_idx(&bytes, mem()));
        assert_eq!(offset, Some(40));
        assert!(reason.contains("3 trailing bytes"), "{reason}");
    }
}

#[test]
fn idx_zero_dim_is_an_error() {
    let b = encode_idx(&[2, 0, 4], &[]).unwrap();
    let (offset, reason) = format_reason(parse_idx(&b, mem()));
    assert_eq!(offset, Some(8));
    assert!(reason.contains("dimension 1 is zero in 2x0x4"), "{reason}");
}

#[test]
fn idx_huge_declared_dims_is_an_error_without_allocating_them() {
    // Product overflows u64: 4 dims of 2^32 - 1.
    let mut b = vec![0, 0, 8, 4];
    for _ in 0..4 {
        b.extend_from_slice(&u32::MAX.to_be_bytes());
    }
    let (_, reason) = format_reason(parse_idx(&b, mem()));
    assert!(reason.contains("limit"), "{reason}");
    // Just above the 1 GiB cap (2^15 * 2^15 + 1 would not fit; 32768 x 32769 does exceed).
    let mut b = vec![0, 0, 8, 2];
    b.extend_from_slice(&32768u32.to_be_bytes());
    b.extend_from_slice(&32769u32.to_be_bytes());
    let (_, reason) = format_reason(parse_idx(&b, mem()));
    assert!(reason.contains("limit"), "{reason}");

    // Under the cap (1000^3 = 10^9 bytes declared) but the file holds 5 bytes: the reader
    // must fail on truncation having allocated a small first chunk, not a gigabyte.
    let mut b = vec![0, 0, 8, 3];
    for _ in 0..3 {
        b.extend_from_slice(&1000u32.to_be_bytes());
    }
    b.extend_from_slice(&[1, 2, 3, 4, 5]);
    for bytes in [b.clone(), gzip(&b)] {
        let ((_, reason), largest) =
            largest_allocation_of(|| format_reason(parse_idx(&bytes, mem())));
        assert!(reason.contains("file holds 5"), "{reason}");
        // 1 MiB: the reader's first chunk is 64 KiB; the decompressor's state and 32 KiB
        // window are the only other sizeable allocations.
        assert!(largest <= 1 << 20, "largest allocation {largest} bytes");
    }
}

#[test]
fn idx_corrupt_gzip_is_an_error() {
    let raw = encode_idx(
        &[50, 40],
        &(0..2000).map(|i| (i * 7 % 251) as u8).collect::<Vec<_>>(),
    )
    .unwrap();
    let good = gzip(&raw);
    assert!(parse_idx(&good, mem()).is_ok());

    // Damaged deflate data, damaged CRC trailer, damaged length trailer, cut-off stream.
    let mut cases = Vec::new();
    let mut body = good.clone();
    body[good.len() / 2] ^= 0x55;
    cases.push(("flipped body byte", body));
    let mut crc = good.clone();
    crc[good.len() - 8] ^= 0x01;
    cases.push(("flipped CRC", crc));
    let mut size = good.clone();
    let last = size.len() - 1;
    size[last] ^= 0x01;
    cases.push(("flipped size", size));
    cases.push(("cut in half", good[..good.len() / 2].to_vec()));
    cases.push(("only the gzip magic", vec![0x1f, 0x8b]));
    for (what, bytes) in cases {
        match parse_idx(&bytes, mem()) {
            Err(Error::Format { reason, .. }) => assert!(
                reason.contains("gzip") || reason.contains("truncated"),
                "{what}: {reason}"
            ),
            other => panic!("{what}: expected a Format error, got {other:?}"),
        }
    }
}

#[test]
fn idx_error_names_the_file() {
    let dir = temp_dir("names-file");
    let p = dir.join("broken.idx");
    std::fs::write(&p, [0u8, 0, 8]).unwrap();
    let e = read_idx_file(&p).unwrap_err();
    assert!(e.to_string().contains("broken.idx"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- MNIST loader on synthetic directories ----

/// Writes a 4-file MNIST-like directory; `n_train_labels` lets a test make the counts differ.
fn write_mnist_dir(
    dir: &Path,
    n_train: usize,
    n_train_labels: usize,
    n_test: usize,
    compress: bool,
) {
    let write = |name: &str, bytes: Vec<u8>| {
        let (name, bytes) = if compress {
            (format!("{name}.gz"), gzip(&bytes))
        } else {
            (name.to_string(), bytes)
        };
        std::fs::write(dir.join(name), bytes).unwrap();
    };
    let images = |n: usize| encode_idx(&[n, 28, 28], &vec![255u8; n * 784]).unwrap();
    let labels =
        |n: usize| encode_idx(&[n], &(0..n).map(|i| (i % 10) as u8).collect::<Vec<_>>()).unwrap();
    write("train-images-idx3-ubyte", images(n_train));
    write("train-labels-idx1-ubyte", labels(n_train_labels));
    write("t10k-images-idx3-ubyte", images(n_test));
    write("t10k-labels-idx1-ubyte", labels(n_test));
}

#[test]
fn mnist_loads_raw_and_gzip_directories_alike() {
    let raw = temp_dir("raw");
    let gz = temp_dir("gz");
    write_mnist_dir(&raw, 12, 12, 5, false);
    write_mnist_dir(&gz, 12, 12, 5, true);
    let a = Mnist::load(&raw).unwrap();
    let b = Mnist::load(&gz).unwrap();
    assert_eq!(a, b);
    assert_eq!((a.train.len(), a.test.len(), a.train.dim), (12, 5, 784));
    assert!(a.train.images.iter().all(|&p| p == 1.0));
    assert_eq!(Mnist::locate(Some(&raw)).unwrap(), raw);
    std::fs::remove_dir_all(&raw).unwrap();
    std::fs::remove_dir_all(&gz).unwrap();
}

#[test]
fn mnist_image_label_count_mismatch_names_both_files() {
    let dir = temp_dir("mismatch");
    write_mnist_dir(&dir, 12, 11, 5, true);
    let (_, reason) = format_reason(Mnist::load(&dir));
    assert!(reason.contains("train-images-idx3-ubyte.gz"), "{reason}");
    assert!(reason.contains("train-labels-idx1-ubyte.gz"), "{reason}");
    assert!(
        reason.contains("12 images") && reason.contains("11 labels"),
        "{reason}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mnist_labels_file_with_image_magic_is_an_error() {
    let dir = temp_dir("swapped");
    write_mnist_dir(&dir, 3, 3, 2, false);
    // Put an image file where the test labels belong.
    std::fs::copy(
        dir.join("t10k-images-idx3-ubyte"),
        dir.join("t10k-labels-idx1-ubyte"),
    )
    .unwrap();
    let (_, reason) = format_reason(Mnist::load(&dir));
    assert!(
        reason.contains("wrong magic number 0x00000803, expected 0x00000801"),
        "{reason}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mnist_label_above_nine_is_an_error() {
    let dir = temp_dir("label10");
    write_mnist_dir(&dir, 3, 3, 2, false);
    std::fs::write(
        dir.join("t10k-labels-idx1-ubyte"),
        encode_idx(&[2], &[3, 10]).unwrap(),
    )
    .unwrap();
    let (offset, reason) = format_reason(Mnist::load(&dir));
    assert_eq!(offset, Some(9));
    assert!(reason.contains("label 10 of example 1"), "{reason}");
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn mnist_missing_directory_and_missing_file_are_errors() {
    let missing = std::env::temp_dir().join("gi-data-definitely-not-here");
    assert!(matches!(Mnist::load(&missing), Err(Error::Io { .. })));
    let e = Mnist::locate(Some(&missing)).unwrap_err();
    assert!(e.to_string().contains("gi-data-definitely-not-here"), "{e}");

    let dir = temp_dir("missing-file");
    write_mnist_dir(&dir, 3, 3, 2, true);
    std::fs::remove_file(dir.join("t10k-labels-idx1-ubyte.gz")).unwrap();
    let e = Mnist::load(&dir).unwrap_err();
    assert!(matches!(e, Error::Io { .. }));
    assert!(e.to_string().contains("t10k-labels-idx1-ubyte"), "{e}");
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---- Dataset, split, Batcher ----

/// `n` examples of `dim` values; example i is filled with the value i and labelled i % 10,
/// so a gathered row says which example it came from.
fn indexed(n: usize, dim: usize) -> Dataset {
    Dataset {
        images: (0..n).flat_map(|i| vec![i as f32; dim]).collect(),
        labels: (0..n).map(|i| (i % 10) as u32).collect(),
        dim,
    }
}

#[test]
fn dataset_take_subset_and_normalize() {
    let ds = indexed(7, 3);
    assert_eq!(ds.take(2).images, vec![0., 0., 0., 1., 1., 1.]);
    assert_eq!(ds.take(100).len(), 7);
    let s = ds.subset(&[6, 0, 6]);
    assert_eq!(s.labels, vec![6, 0, 6]);
    assert_eq!(s.image(0), &[6.0; 3]);
    let mut d = ds.take(2);
    d.normalize(0.5, 2.0);
    assert_eq!(d.images, vec![-0.25, -0.25, -0.25, 0.25, 0.25, 0.25]);
    assert!(!ds.is_empty() && ds.take(0).is_empty());
}

#[test]
fn split_validation_is_disjoint_complete_and_seeded() {
    let ds = indexed(100, 2);
    let (train, val) = ds
        .split_validation(30, &mut StdRng::seed_from_u64(7))
        .unwrap();
    assert_eq!((train.len(), val.len()), (70, 30));
    let ids = |d: &Dataset| {
        (0..d.len())
            .map(|i| d.image(i)[0] as usize)
            .collect::<Vec<_>>()
    };
    let mut all: Vec<usize> = ids(&train).into_iter().chain(ids(&val)).collect();
    all.sort_unstable();
    assert_eq!(all, (0..100).collect::<Vec<_>>());
    // Labels travel with their images.
    assert!(ids(&val)
        .iter()
        .zip(&val.labels)
        .all(|(&i, &l)| l == (i % 10) as u32));
    // Same seed, same split; another seed, another split; and it is actually shuffled.
    let (train2, val2) = ds
        .split_validation(30, &mut StdRng::seed_from_u64(7))
        .unwrap();
    assert_eq!((&train, &val), (&train2, &val2));
    let (_, val3) = ds
        .split_validation(30, &mut StdRng::seed_from_u64(8))
        .unwrap();
    assert_ne!(val, val3);
    assert_ne!(ids(&val), (0..30).collect::<Vec<_>>());
    assert!(ds
        .split_validation(101, &mut StdRng::seed_from_u64(7))
        .is_err());
    assert_eq!(
        ds.split_validation(100, &mut StdRng::seed_from_u64(7))
            .unwrap()
            .0
            .len(),
        0
    );
}

/// The example indices of every batch of one epoch.
fn epoch(b: &mut Batcher, ds: &Dataset) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    while let Some(batch) = b.next_batch(ds) {
        assert_eq!(batch.x.len(), batch.len * ds.dim);
        assert_eq!(batch.labels.len(), batch.len);
        let ids: Vec<usize> = batch.x.chunks(ds.dim).map(|r| r[0] as usize).collect();
        for (row, &i) in batch.x.chunks(ds.dim).zip(&ids) {
            assert!(row.iter().all(|&v| v == i as f32));
        }
        assert!(ids
            .iter()
            .zip(batch.labels)
            .all(|(&i, &l)| l == (i % 10) as u32));
        out.push(ids);
    }
    out
}

#[test]
fn batcher_covers_every_example_once_per_epoch_with_partial_last_batch() {
    let ds = indexed(103, 5);
    let mut b = Batcher::new(103, 10, 5);
    assert_eq!(b.batches_per_epoch(), 11);
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..3 {
        b.shuffle(&mut rng);
        let batches = epoch(&mut b, &ds);
        assert_eq!(batches.len(), 11);
        assert!(batches[..10].iter().all(|x| x.len() == 10));
        assert_eq!(batches[10].len(), 3);
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..103).collect::<Vec<_>>());
    }
    // Exact division: no empty trailing batch.
    let mut b = Batcher::new(100, 10, 5);
    assert_eq!(b.batches_per_epoch(), 10);
    assert_eq!(epoch(&mut b, &indexed(100, 5)).len(), 10);
    // Batch larger than the dataset: one batch of everything.
    let mut b = Batcher::new(7, 64, 5);
    assert_eq!(
        epoch(&mut b, &indexed(7, 5)),
        vec![(0..7).collect::<Vec<_>>()]
    );
    // Batch size 0 yields nothing rather than looping forever.
    let mut b = Batcher::new(7, 0, 5);
    assert_eq!(b.batches_per_epoch(), 0);
    assert!(b.next_batch(&indexed(7, 5)).is_none());
}

#[test]
fn batcher_is_seeded_and_reproducible() {
    let ds = indexed(50, 2);
    let run = |seed: u64| {
        let mut b = Batcher::new(50, 8, 2);
        let mut rng = StdRng::seed_from_u64(seed);
        (0..3)
            .map(|_| {
                b.shuffle(&mut rng);
                epoch(&mut b, &ds)
            })
            .collect::<Vec<_>>()
    };
    let a = run(42);
    assert_eq!(a, run(42));
    assert_ne!(a, run(43));
    // Epochs differ from each other (the order is reshuffled, not replayed).
    assert_ne!(a[0], a[1]);
    // Before any shuffle the order is 0..n; after the epoch ends it replays the same order.
    let mut b = Batcher::new(50, 8, 2);
    let first = epoch(&mut b, &ds);
    assert_eq!(first.concat(), (0..50).collect::<Vec<_>>());
    assert_eq!(epoch(&mut b, &ds), first);
}

#[test]
fn batcher_reuses_its_buffers_across_batches_and_epochs() {
    let ds = indexed(64, 784);
    let mut b = Batcher::new(64, 10, 784);
    let mut rng = StdRng::seed_from_u64(3);
    let mut ptrs = std::collections::HashSet::new();
    for _ in 0..4 {
        b.shuffle(&mut rng);
        while let Some(batch) = b.next_batch(&ds) {
            ptrs.insert((batch.x.as_ptr() as usize, batch.labels.as_ptr() as usize));
        }
    }
    assert_eq!(ptrs.len(), 1, "buffers moved: {ptrs:?}");
    // And gathering a batch allocates nothing at all.
    b.shuffle(&mut rng);
    let ((), largest) = largest_allocation_of(|| while b.next_batch(&ds).is_some() {});
    assert_eq!(largest, 0);
}
