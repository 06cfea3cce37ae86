//! The safetensors weights format (F32 tensors only), written and read without the
//! `safetensors` crate.
//!
//! ```text
//! 8 bytes   N, u64 little-endian
//! N bytes   JSON header, padded with spaces to a multiple of 8:
//!           {"__metadata__": {"k": "v", ..},
//!            "name": {"dtype": "F32", "shape": [d0, ..], "data_offsets": [begin, end]}, ..}
//! rest      the data section; tensor `name` is bytes begin..end of it, f32 little-endian
//! ```
//!
//! Writing is deterministic: tensors are laid out sorted by name, metadata sorted by key,
//! and the JSON follows the reference implementation's layout, so the same inputs always
//! give the same bytes (and an F32-only file matches the reference writer's bytes).
//!
//! Reading treats the file as hostile. Every check below is an [`Error::Format`], never a
//! panic: header length within [`MAX_HEADER_BYTES`] and within the file; UTF-8 JSON; an
//! object; no duplicate key anywhere; only the keys `dtype`, `shape`, `data_offsets` per
//! tensor; dtype `F32` only; rank at most [`MAX_RANK`]; the shape's byte size computed with
//! overflow checks and equal to `end - begin`; and the tensors tile the data section exactly
//! (sorted by offset they start at 0, each begins where the previous ends, the last ends at
//! the end of the file): no overlap, no gap, no unreferenced byte. Every allocation is
//! bounded by the input's actual length, which [`load`] caps at [`MAX_FILE_BYTES`] before
//! reading.
//!
//! ## Checksums
//!
//! [`to_bytes_checked`] (and [`save_checked`]) add the metadata entry [`CHECKSUM_KEY`]: the
//! CRC-32 ([`content_crc32`], flate2's zlib/PNG polynomial) of everything else the file says —
//! every other metadata entry, and every tensor's name, shape and data bytes. Every reader
//! ([`from_bytes`], [`load`]) verifies the checksum when the entry is present, so a file
//! changed after it was written (a flipped bit in a weight's mantissa or exponent, in a
//! shape, in a metadata value) is an [`Error::Format`] naming the file, not a silently
//! different tensor. [`load_checked`] and [`from_bytes_checked`] also require the entry, so
//! that a damaged key cannot turn the check off. CRC-32 detects every error of up to 32
//! consecutive bits and every odd number of flipped bits; it guards against accidents
//! (storage, truncation, editing), not against someone who means to forge a file.

mod checksum;
mod read;

use checksum::verify_checksum;
pub use checksum::{
    content_crc32, from_bytes_checked, load_checked, save_checked, to_bytes_checked, CHECKSUM_KEY,
};
pub use read::{from_bytes, from_bytes_unverified};

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use crate::tensor::{Tensor, MAX_RANK};
use serde_json::Value;
use std::collections::HashSet;
use std::path::Path;

/// Largest JSON header accepted (100 MB), as in the reference implementation.
pub const MAX_HEADER_BYTES: u64 = 100_000_000;

/// Largest file [`load`] reads (4 GiB).
pub const MAX_FILE_BYTES: u64 = 4 << 30;

/// The metadata key of the header.
pub(super) const METADATA_KEY: &str = "__metadata__";

/// Tensors and string metadata read from a safetensors file.
#[derive(Clone, Debug, PartialEq)]
pub struct Weights {
    /// Named tensors, sorted by name.
    pub tensors: Vec<(String, Tensor)>,
    /// The `__metadata__` entries, sorted by key.
    pub metadata: Vec<(String, String)>,
}

impl Weights {
    fn names(&self) -> String {
        self.tensors
            .iter()
            .map(|(n, _)| n.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    }

    /// The tensor called `name`; error (listing the names present) if there is none.
    pub fn get(&self, name: &str) -> Result<&Tensor> {
        self.tensors
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t)
            .ok_or_else(|| {
                Error::invalid(
                    "Weights::get",
                    format!("no tensor named {name:?}; present: [{}]", self.names()),
                )
            })
    }

    /// Removes and returns the tensor called `name`, checking it has exactly `expected_dims`.
    /// On error (missing, or wrong shape) the weights are left unchanged.
    pub fn take(&mut self, name: &str, expected_dims: &[usize]) -> Result<Tensor> {
        let i = self
            .tensors
            .iter()
            .position(|(n, _)| n == name)
            .ok_or_else(|| {
                Error::invalid(
                    "Weights::take",
                    format!("no tensor named {name:?}; present: [{}]", self.names()),
                )
            })?;
        let found = self.tensors[i].1.dims();
        if found != expected_dims {
            return Err(Error::shape(
                "Weights::take",
                format!("tensor {name:?} with dims {expected_dims:?}"),
                format!("dims {found:?}"),
            ));
        }
        Ok(self.tensors.remove(i).1)
    }

    /// The metadata value for `key`, if present.
    pub fn meta(&self, key: &str) -> Option<&str> {
        self.metadata
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Serializes tensors (F32) and string metadata to safetensors bytes. Error on a duplicate
/// tensor name or metadata key, or a tensor named `__metadata__`.
pub fn to_bytes(tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    let mut sorted: Vec<(&str, &Tensor)> = tensors.to_vec();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    for w in sorted.windows(2) {
        if w[0].0 == w[1].0 {
            return Err(Error::invalid(
                "safetensors::to_bytes",
                format!("tensor name {:?} given twice", w[0].0),
            ));
        }
    }
    if sorted.iter().any(|(n, _)| *n == METADATA_KEY) {
        return Err(Error::invalid(
            "safetensors::to_bytes",
            format!("{METADATA_KEY:?} is reserved and cannot name a tensor"),
        ));
    }

    // The header is written by hand in the reference implementation's layout
    // (`__metadata__` first, then tensors in data order, fields `dtype, shape, data_offsets`,
    // no spaces), so an F32-only file is byte-identical to what huggingface/safetensors
    // writes. serde_json only escapes the strings.
    let quote = |s: &str| {
        serde_json::to_string(s).map_err(|e| Error::invalid("safetensors::to_bytes", e.to_string()))
    };
    let mut json = String::from("{");
    if !metadata.is_empty() {
        let mut meta: Vec<(&str, &str)> = metadata.to_vec();
        meta.sort();
        if let Some(w) = meta.windows(2).find(|w| w[0].0 == w[1].0) {
            return Err(Error::invalid(
                "safetensors::to_bytes",
                format!("metadata key {:?} given twice", w[0].0),
            ));
        }
        json.push_str(&format!("{}:{{", quote(METADATA_KEY)?));
        for (i, (k, v)) in meta.iter().enumerate() {
            let sep = if i > 0 { "," } else { "" };
            json.push_str(&format!("{sep}{}:{}", quote(k)?, quote(v)?));
        }
        json.push('}');
    }
    let mut offset = 0usize;
    for (i, &(name, t)) in sorted.iter().enumerate() {
        let end = offset + 4 * t.numel();
        let sep = if i > 0 || !metadata.is_empty() {
            ","
        } else {
            ""
        };
        let dims = t
            .dims()
            .iter()
            .map(|d| d.to_string())
            .collect::<Vec<_>>()
            .join(",");
        json.push_str(&format!(
            "{sep}{}:{{\"dtype\":\"F32\",\"shape\":[{dims}],\"data_offsets\":[{offset},{end}]}}",
            quote(name)?
        ));
        offset = end;
    }
    json.push('}');
    let mut json = json.into_bytes();
    // Pad with spaces (JSON whitespace) so the data section starts 8-byte aligned, as the
    // reference implementation does.
    json.resize(json.len().next_multiple_of(8), b' ');

    let mut out = Vec::with_capacity(8 + json.len() + offset);
    out.extend_from_slice(&(json.len() as u64).to_le_bytes());
    out.extend_from_slice(&json);
    for &(_, t) in &sorted {
        for x in t.data() {
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
    Ok(out)
}

/// Writes a safetensors file atomically (see [`to_bytes`]).
pub fn save(path: &Path, tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> Result<()> {
    write_atomic(path, &to_bytes(tensors, metadata)?)
}

/// Reads a safetensors file; the size is checked against [`MAX_FILE_BYTES`] before reading.
pub fn load(path: &Path) -> Result<Weights> {
    let len = std::fs::metadata(path)
        .map_err(|e| Error::io(path, e))?
        .len();
    if len > MAX_FILE_BYTES {
        return Err(Error::format(
            path,
            None,
            format!("file is {len} bytes, above the {MAX_FILE_BYTES}-byte limit"),
        ));
    }
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    from_bytes(&bytes, path)
}
