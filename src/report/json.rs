//! JSON files for run summaries: written pretty and atomically, read back for merging.

use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use std::path::Path;

/// Writes `value` as pretty-printed JSON (two-space indent, trailing newline) to `path`
/// atomically (temp file + rename).
pub fn write_json_pretty(path: &Path, value: &serde_json::Value) -> Result<()> {
    let mut text = serde_json::to_string_pretty(value)
        .map_err(|e| Error::invalid("write_json_pretty", e.to_string()))?;
    text.push('\n');
    write_atomic(path, text.as_bytes())
}

/// Reads a JSON file. A syntax error becomes [`Error::Format`] with the line and column in the
/// reason (serde_json reports positions as line/column, not byte offsets).
pub fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text = std::fs::read_to_string(path).map_err(|e| Error::io(path, e))?;
    serde_json::from_str(&text).map_err(|e| {
        Error::format(
            path,
            None,
            format!(
                "invalid JSON at line {}, column {}: {e}",
                e.line(),
                e.column()
            ),
        )
    })
}
