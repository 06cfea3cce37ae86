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
const METADATA_KEY: &str = "__metadata__";

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

/// The metadata key holding the checksum (8 lowercase hex digits) that
/// [`to_bytes_checked`] writes.
pub const CHECKSUM_KEY: &str = "crc32";

/// The CRC-32 of a file's content: the metadata entries except [`CHECKSUM_KEY`] sorted by
/// key, then the tensors sorted by name (name, rank, dimensions, f32 little-endian data),
/// each field preceded by its byte length so that no two contents give the same byte stream.
pub fn content_crc32(tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> u32 {
    let mut crc = flate2::Crc::new();
    let field = |crc: &mut flate2::Crc, bytes: &[u8]| {
        crc.update(&(bytes.len() as u64).to_le_bytes());
        crc.update(bytes);
    };
    let mut meta: Vec<&(&str, &str)> = metadata
        .iter()
        .filter(|(k, _)| *k != CHECKSUM_KEY)
        .collect();
    meta.sort();
    for (k, v) in meta {
        field(&mut crc, k.as_bytes());
        field(&mut crc, v.as_bytes());
    }
    let mut sorted: Vec<&(&str, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut buf = Vec::with_capacity(4096);
    for (name, t) in sorted {
        field(&mut crc, name.as_bytes());
        let dims: Vec<u8> = t
            .dims()
            .iter()
            .flat_map(|&d| (d as u64).to_le_bytes())
            .collect();
        field(&mut crc, &dims);
        crc.update(&(4 * t.numel() as u64).to_le_bytes());
        for chunk in t.data().chunks(1024) {
            buf.clear();
            buf.extend(chunk.iter().flat_map(|x| x.to_le_bytes()));
            crc.update(&buf);
        }
    }
    crc.sum()
}

/// [`to_bytes`] plus the [`CHECKSUM_KEY`] entry (see the module docs). Error if `metadata`
/// already holds that key.
pub fn to_bytes_checked(tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    if metadata.iter().any(|(k, _)| *k == CHECKSUM_KEY) {
        return Err(Error::invalid(
            "safetensors::to_bytes_checked",
            format!("metadata key {CHECKSUM_KEY:?} is reserved for the checksum"),
        ));
    }
    let sum = format!("{:08x}", content_crc32(tensors, metadata));
    let mut meta = metadata.to_vec();
    meta.push((CHECKSUM_KEY, &sum));
    to_bytes(tensors, &meta)
}

/// Writes a checksummed safetensors file atomically (see [`to_bytes_checked`]).
pub fn save_checked(
    path: &Path,
    tensors: &[(&str, &Tensor)],
    metadata: &[(&str, &str)],
) -> Result<()> {
    write_atomic(path, &to_bytes_checked(tensors, metadata)?)
}

/// Verifies the checksum of parsed weights, if they carry one (`required`: they must).
fn verify_checksum(w: &Weights, origin: &Path, required: bool) -> Result<()> {
    let Some(stored) = w.meta(CHECKSUM_KEY) else {
        if required {
            return Err(Error::format(
                origin,
                None,
                format!(
                    "no {CHECKSUM_KEY:?} checksum in the metadata (not written by this crate's \
                     checked writer, or the header was damaged)"
                ),
            ));
        }
        return Ok(());
    };
    let tensors: Vec<(&str, &Tensor)> = w.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let meta: Vec<(&str, &str)> = w
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let computed = format!("{:08x}", content_crc32(&tensors, &meta));
    if stored != computed {
        return Err(Error::format(
            origin,
            None,
            format!(
                "checksum mismatch: the file's tensors or metadata changed after it was \
                 written (stored CRC-32 {stored:?}, content gives {computed:?})"
            ),
        ));
    }
    Ok(())
}

/// Reads a checksummed file ([`save_checked`]): [`load`], and the checksum must be present.
pub fn load_checked(path: &Path) -> Result<Weights> {
    let w = load(path)?;
    verify_checksum(&w, path, true)?;
    Ok(w)
}

/// Parses checksummed bytes: [`from_bytes`], and the checksum must be present.
pub fn from_bytes_checked(bytes: &[u8], origin: &Path) -> Result<Weights> {
    let w = from_bytes_unverified(bytes, origin)?;
    verify_checksum(&w, origin, true)?;
    Ok(w)
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

/// One tensor's header entry after validation.
struct Entry {
    name: String,
    dims: Vec<usize>,
    begin: usize,
    end: usize,
}

/// Parses safetensors bytes; `origin` names the source in errors. A [`CHECKSUM_KEY`] entry,
/// if present, is verified.
pub fn from_bytes(bytes: &[u8], origin: &Path) -> Result<Weights> {
    let w = from_bytes_unverified(bytes, origin)?;
    verify_checksum(&w, origin, false)?;
    Ok(w)
}

/// [`from_bytes`] without the checksum verification: every structural check, but a
/// [`CHECKSUM_KEY`] entry is returned as plain metadata. For tools that inspect or repair a
/// file (the `checkpoint` fuzz target re-seals mutated inputs with it), not for loading.
pub fn from_bytes_unverified(bytes: &[u8], origin: &Path) -> Result<Weights> {
    let (header, data, data_start) = split_header(bytes, origin)?;
    let map = parse_header(header, origin)?;
    let (mut metadata, mut entries) = header_entries(map, data.len(), origin)?;
    check_tiling(&mut entries, data.len(), data_start, origin)?;
    let mut tensors = Vec::with_capacity(entries.len());
    for e in entries {
        let values = data[e.begin..e.end]
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect();
        let t = Tensor::from_vec(values, &e.dims)
            .map_err(|x| Error::format(origin, Some(data_start + e.begin as u64), x.to_string()))?;
        tensors.push((e.name, t));
    }
    tensors.sort_by(|a, b| a.0.cmp(&b.0));
    metadata.sort();
    Ok(Weights { tensors, metadata })
}

/// Splits a file into its header text and data section (and the data's absolute offset),
/// checking the 8-byte length field against the limit and the bytes present.
fn split_header<'a>(bytes: &'a [u8], origin: &Path) -> Result<(&'a [u8], &'a [u8], u64)> {
    let err = |offset: Option<u64>, reason: String| Error::format(origin, offset, reason);
    if bytes.len() < 8 {
        return Err(err(
            Some(0),
            format!(
                "{} bytes: too short for the 8-byte header length",
                bytes.len()
            ),
        ));
    }
    let mut len8 = [0u8; 8];
    len8.copy_from_slice(&bytes[..8]);
    let n = u64::from_le_bytes(len8);
    let available = (bytes.len() - 8) as u64;
    if n > MAX_HEADER_BYTES {
        return Err(err(
            Some(0),
            format!("header length {n} exceeds the {MAX_HEADER_BYTES}-byte limit"),
        ));
    }
    if n > available {
        return Err(err(
            Some(0),
            format!("header length {n} exceeds the {available} bytes after the length field"),
        ));
    }
    let n = n as usize;
    let header = &bytes[8..8 + n];
    let data = &bytes[8 + n..];
    let data_start = 8 + n as u64;
    Ok((header, data, data_start))
}

/// The header as a JSON object: valid UTF-8, valid JSON, no duplicate keys.
fn parse_header(header: &[u8], origin: &Path) -> Result<serde_json::Map<String, Value>> {
    let err = |offset: Option<u64>, reason: String| Error::format(origin, offset, reason);
    let text = std::str::from_utf8(header).map_err(|e| {
        err(
            Some(8 + e.valid_up_to() as u64),
            "header is not valid UTF-8".into(),
        )
    })?;
    let value: Value = serde_json::from_str(text).map_err(|e| {
        err(
            Some(8),
            format!(
                "header is not valid JSON: {e} (line {}, column {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    if let Some(dup) = first_duplicate_key(text) {
        return Err(err(Some(8), format!("duplicate key {dup:?} in the header")));
    }
    let Value::Object(map) = value else {
        return Err(err(Some(8), "header is not a JSON object".into()));
    };
    Ok(map)
}

/// The header's string metadata and its tensor entries (each checked by [`parse_entry`]).
type HeaderEntries = (Vec<(String, String)>, Vec<Entry>);
fn header_entries(
    map: serde_json::Map<String, Value>,
    data_len: usize,
    origin: &Path,
) -> Result<HeaderEntries> {
    let err = |offset: Option<u64>, reason: String| Error::format(origin, offset, reason);
    let mut metadata = Vec::new();
    let mut entries = Vec::with_capacity(map.len());
    for (name, info) in map {
        if name == METADATA_KEY {
            let Value::Object(meta) = info else {
                return Err(err(
                    Some(8),
                    format!("{METADATA_KEY} is not an object of strings"),
                ));
            };
            for (k, v) in meta {
                match v {
                    Value::String(s) => metadata.push((k, s)),
                    other => {
                        return Err(err(
                            Some(8),
                            format!("{METADATA_KEY} value for {k:?} is {other}, not a string"),
                        ))
                    }
                }
            }
            continue;
        }
        entries.push(parse_entry(name, &info, data_len, origin)?);
    }
    Ok((metadata, entries))
}

/// Sorts the entries by offset and checks that they tile the data section exactly: no
/// overlap, no gap, no unreferenced tail.
fn check_tiling(
    entries: &mut [Entry],
    data_len: usize,
    data_start: u64,
    origin: &Path,
) -> Result<()> {
    let err = |offset: Option<u64>, reason: String| Error::format(origin, offset, reason);
    // The tensors must tile the data section exactly. Sorting by (begin, end) puts
    // zero-length tensors before a non-empty one at the same offset.
    entries.sort_by_key(|e| (e.begin, e.end));
    let mut at = 0usize;
    for e in entries.iter() {
        if e.begin != at {
            let what = if e.begin < at {
                "overlaps"
            } else {
                "leaves a gap before"
            };
            return Err(err(
                Some(data_start + e.begin as u64),
                format!(
                    "tensor {:?} (data_offsets [{}, {}]) {what} the previous tensor, \
                     which ends at {at}",
                    e.name, e.begin, e.end
                ),
            ));
        }
        at = e.end;
    }
    if at != data_len {
        return Err(err(
            Some(data_start + at as u64),
            format!(
                "{} bytes of data after the last tensor are referenced by no tensor",
                data_len - at
            ),
        ));
    }
    Ok(())
}

fn parse_entry(name: String, info: &Value, data_len: usize, origin: &Path) -> Result<Entry> {
    let bad = |reason: String| Error::format(origin, Some(8), format!("tensor {name:?}: {reason}"));
    let Value::Object(obj) = info else {
        return Err(bad(format!("entry is {info}, not an object")));
    };
    for key in obj.keys() {
        if !matches!(key.as_str(), "dtype" | "shape" | "data_offsets") {
            return Err(bad(format!(
                "unknown field {key:?} (expected dtype, shape, data_offsets)"
            )));
        }
    }
    match obj.get("dtype") {
        Some(Value::String(d)) if d == "F32" => {}
        Some(Value::String(d)) => {
            return Err(bad(format!("dtype {d} is not supported (only F32)")));
        }
        Some(other) => return Err(bad(format!("dtype is {other}, not a string"))),
        None => return Err(bad("missing dtype".into())),
    }
    let Some(Value::Array(shape)) = obj.get("shape") else {
        return Err(bad("missing or non-array shape".into()));
    };
    if shape.len() > MAX_RANK {
        return Err(bad(format!(
            "rank {} exceeds the tensor limit of {MAX_RANK}",
            shape.len()
        )));
    }
    let mut dims = Vec::with_capacity(shape.len());
    for d in shape {
        let d = d
            .as_u64()
            .and_then(|d| usize::try_from(d).ok())
            .ok_or_else(|| bad(format!("shape entry {d} is not a non-negative integer")))?;
        dims.push(d);
    }
    let nbytes = dims
        .iter()
        .try_fold(4usize, |acc, &d| acc.checked_mul(d))
        .ok_or_else(|| bad(format!("shape {dims:?}: byte size overflows")))?;
    let offsets = match obj.get("data_offsets") {
        Some(Value::Array(o)) if o.len() == 2 => o,
        _ => return Err(bad("data_offsets is not a pair [begin, end]".into())),
    };
    let as_offset = |v: &Value| v.as_u64().and_then(|x| usize::try_from(x).ok());
    let (Some(begin), Some(end)) = (as_offset(&offsets[0]), as_offset(&offsets[1])) else {
        return Err(bad(format!(
            "data_offsets [{}, {}] are not non-negative integers",
            offsets[0], offsets[1]
        )));
    };
    if begin > end || end > data_len {
        return Err(bad(format!(
            "data_offsets [{begin}, {end}] outside the {data_len}-byte data section"
        )));
    }
    if end - begin != nbytes {
        return Err(bad(format!(
            "data_offsets [{begin}, {end}] span {} bytes, shape {dims:?} of F32 needs {nbytes}",
            end - begin
        )));
    }
    Ok(Entry {
        name,
        dims,
        begin,
        end,
    })
}

/// The first object key that appears twice in the same JSON object, anywhere in `json`.
/// (serde_json keeps the last of duplicate keys silently; safetensors must reject them.)
/// `json` must already be valid JSON: this is a scanner over its strings and braces, not a
/// validator.
fn first_duplicate_key(json: &str) -> Option<String> {
    let b = json.as_bytes();
    // One frame per open bracket: `Some(keys seen)` for an object, `None` for an array.
    let mut stack: Vec<Option<HashSet<String>>> = Vec::new();
    // In an object, whether the next string is a key (after `{` or `,`).
    let mut expect_key = false;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'{' => {
                stack.push(Some(HashSet::new()));
                expect_key = true;
            }
            b'[' => {
                stack.push(None);
                expect_key = false;
            }
            b'}' | b']' => {
                stack.pop();
                expect_key = false;
            }
            b',' => expect_key = matches!(stack.last(), Some(Some(_))),
            b'"' => {
                let start = i;
                i += 1;
                while i < b.len() && b[i] != b'"' {
                    i += if b[i] == b'\\' { 2 } else { 1 };
                }
                if expect_key {
                    // Decode escapes so that "a" and "\u0061" count as the same key.
                    let raw = json.get(start..=i.min(b.len() - 1))?;
                    let key: String = serde_json::from_str(raw).ok()?;
                    if let Some(Some(seen)) = stack.last_mut() {
                        if !seen.insert(key.clone()) {
                            return Some(key);
                        }
                    }
                    expect_key = false;
                }
            }
            _ => {}
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicate_scanner_finds_nested_and_escaped_duplicates() {
        assert_eq!(first_duplicate_key(r#"{"a": 1, "b": [1, {"a": 2}]}"#), None);
        assert_eq!(
            first_duplicate_key(r#"{"a": 1, "\u0061": 2}"#),
            Some("a".into())
        );
        assert_eq!(
            first_duplicate_key(r#"{"x": {"k": "}", "k": 2}}"#),
            Some("k".into())
        );
        assert_eq!(first_duplicate_key(r#"{"q\"": ",", "q": 1}"#), None);
    }
}
