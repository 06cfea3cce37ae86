//! Parsing: the header length, the JSON header, each tensor's entry, and the check that the
//! tensors tile the data section exactly. Every malformed input is a typed error.

use super::*;

/// One tensor's header entry after validation.
pub(super) struct Entry {
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
pub(super) fn split_header<'a>(
    bytes: &'a [u8],
    origin: &Path,
) -> Result<(&'a [u8], &'a [u8], u64)> {
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
pub(super) fn parse_header(header: &[u8], origin: &Path) -> Result<serde_json::Map<String, Value>> {
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
pub(super) type HeaderEntries = (Vec<(String, String)>, Vec<Entry>);
pub(super) fn header_entries(
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
pub(super) fn check_tiling(
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

pub(super) fn parse_entry(
    name: String,
    info: &Value,
    data_len: usize,
    origin: &Path,
) -> Result<Entry> {
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
pub(super) fn first_duplicate_key(json: &str) -> Option<String> {
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
