//! Robustness of the data layer: the error paths the `mnist_enn` example hits first, at the
//! library level (moved from tests/robustness.rs).

mod common;

use common::temp_dir;
use grad_instructor::data::Mnist;
use grad_instructor::Error;
use std::path::Path;

// ---- The example's error paths, at the library level (what `mnist_enn` calls first). ----

#[test]
fn missing_mnist_directory_is_an_error_naming_the_path() {
    let missing = Path::new("/nonexistent/gi-robustness/mnist");
    let err = Mnist::locate(Some(missing)).unwrap_err();
    assert!(
        err.to_string().contains("/nonexistent/gi-robustness/mnist"),
        "{err}"
    );
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    let err = Mnist::load(missing).unwrap_err();
    assert!(matches!(err, Error::Io { .. }), "{err:?}");
}

#[test]
fn truncated_idx_file_is_a_format_error_with_path_and_offset() {
    let dir = temp_dir("truncated-idx");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("data/mnist");
    // Raw (not gzip) files, each cut short: the images after the header and a few rows.
    let files = [
        ("train-images-idx3-ubyte", 16 + 3 * 784 + 100),
        ("train-labels-idx1-ubyte", 8 + 3),
        ("t10k-images-idx3-ubyte", 16 + 784),
        ("t10k-labels-idx1-ubyte", 8 + 1),
    ];
    for (name, keep) in files {
        let gz = std::fs::read(src.join(format!("{name}.gz"))).unwrap();
        let mut raw = Vec::new();
        std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut raw).unwrap();
        std::fs::write(dir.join(name), &raw[..keep]).unwrap();
    }
    assert_eq!(Mnist::locate(Some(&dir)).unwrap(), dir);
    let err = Mnist::load(&dir).unwrap_err();
    match &err {
        Error::Format { path, offset, .. } => {
            assert!(path.ends_with("train-images-idx3-ubyte"), "{err}");
            assert!(offset.is_some(), "{err}");
        }
        e => panic!("expected a format error, got {e:?}"),
    }
    assert!(!err.to_string().contains('\n'), "one line: {err}");
    std::fs::remove_dir_all(&dir).unwrap();
}
