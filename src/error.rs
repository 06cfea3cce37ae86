//! The crate's one error type.
//!
//! Every public function whose outcome depends on its input (shapes, files, flags) returns
//! [`Result<T>`]. Each variant says *what* went wrong and *where* (the operation, the file and
//! byte offset, the training step), so that the message printed by an example is enough to act on.
//!
//! The policy: bad input is an [`Error`], never a panic. Panics are reserved for programming
//! errors *inside* the crate (a kernel handed slices that disagree with its dimensions, which
//! the tensor layer has already ruled out). The enum is `#[non_exhaustive]`, so a `match` on
//! it needs a `_` arm; match on the variant to react, print it (`Display`) to report.
//!
//! ```
//! use grad_instructor::{Error, Tensor};
//! let err = Tensor::from_vec(vec![1.0; 5], &[2, 3]).unwrap_err();
//! assert!(matches!(err, Error::Shape { op: "Tensor::from_vec", .. }));
//! assert_eq!(
//!     err.to_string(),
//!     "Tensor::from_vec: shape mismatch: expected 6 elements for shape [2, 3], found 5 elements"
//! );
//! ```

use std::fmt;
use std::path::PathBuf;

/// Result alias used across the crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong at the crate's public API.
#[derive(Debug)]
#[non_exhaustive]
pub enum Error {
    /// Operands of `op` have incompatible shapes.
    Shape {
        /// The operation that rejected its operands, e.g. `"matmul"`.
        op: &'static str,
        /// What the operation needed, in words or dimensions.
        expected: String,
        /// What it was given.
        found: String,
    },
    /// A function argument is out of its valid range (not a shape problem).
    InvalidArgument {
        /// The function or flag.
        what: &'static str,
        /// Why the value is not acceptable.
        reason: String,
    },
    /// An operating-system error while reading or writing `path`.
    Io {
        /// The file or directory involved.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// A malformed file: IDX, gzip, safetensors, checkpoint or CSV.
    Format {
        /// The file (or a description of the stream when there is no file).
        path: PathBuf,
        /// Byte offset in the (decompressed) stream where the problem was found, if known.
        offset: Option<u64>,
        /// What is wrong, with expected vs found where that applies.
        reason: String,
    },
    /// A NaN or infinity appeared during training.
    NonFinite {
        /// Which run: an arm name such as `"bp"` or `"enn-training"`.
        run: String,
        /// The optimizer step at which it was detected.
        step: usize,
        /// Which quantity: `"loss"`, `"gradient of layer 1 weight"`, ...
        what: String,
    },
    /// A command-line flag could not be parsed.
    Usage(String),
}

impl Error {
    /// Shorthand for a [`Error::Shape`] error.
    pub fn shape(op: &'static str, expected: impl Into<String>, found: impl Into<String>) -> Self {
        Error::Shape {
            op,
            expected: expected.into(),
            found: found.into(),
        }
    }

    /// Shorthand for an [`Error::InvalidArgument`] error.
    pub fn invalid(what: &'static str, reason: impl Into<String>) -> Self {
        Error::InvalidArgument {
            what,
            reason: reason.into(),
        }
    }

    /// Shorthand for an [`Error::Io`] error.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            source,
        }
    }

    /// Shorthand for an [`Error::Format`] error.
    pub fn format(
        path: impl Into<PathBuf>,
        offset: Option<u64>,
        reason: impl Into<String>,
    ) -> Self {
        Error::Format {
            path: path.into(),
            offset,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Shape {
                op,
                expected,
                found,
            } => {
                write!(
                    f,
                    "{op}: shape mismatch: expected {expected}, found {found}"
                )
            }
            Error::InvalidArgument { what, reason } => write!(f, "{what}: {reason}"),
            Error::Io { path, source } => write!(f, "{}: {source}", path.display()),
            Error::Format {
                path,
                offset: Some(o),
                reason,
            } => {
                write!(f, "{}: at byte {o}: {reason}", path.display())
            }
            Error::Format {
                path,
                offset: None,
                reason,
            } => {
                write!(f, "{}: {reason}", path.display())
            }
            Error::NonFinite { run, step, what } => {
                write!(f, "{run}: non-finite {what} at step {step}; run stopped")
            }
            Error::Usage(msg) => write!(f, "usage: {msg}"),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Error::Io { source, .. } => Some(source),
            _ => None,
        }
    }
}
