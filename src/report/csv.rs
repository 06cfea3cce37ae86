//! CSV in the RFC 4180 dialect: comma-separated, fields quoted with `"` when they contain a
//! comma, a quote, a line break or leading/trailing spaces (a quote inside is doubled), rows
//! ending in `\n`. The reader accepts `\n` and `\r\n`, a UTF-8 byte-order mark, and skips blank
//! lines; it is strict otherwise, so merging runs fails loudly on a damaged file.

use super::table::Table;
use crate::error::{Error, Result};
use crate::io::atomic::write_atomic;
use std::path::Path;

/// One field, quoted only when it must be.
fn push_field(out: &mut String, field: &str, only_field: bool) {
    let needs_quotes = field.contains([',', '"', '\n', '\r'])
        || field.starts_with(' ')
        || field.ends_with(' ')
        // A one-column row holding "" would otherwise be a blank line, which the reader skips.
        || (only_field && field.is_empty());
    if needs_quotes {
        out.push('"');
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}

fn push_record(out: &mut String, record: &[String]) {
    for (i, field) in record.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_field(out, field, record.len() == 1);
    }
    out.push('\n');
}

/// The table as CSV text: the header line, then one line per row (rows are written as they
/// are; see [`Table::push_row`] for length checking).
pub fn to_csv(table: &Table) -> String {
    let mut out = String::new();
    push_record(&mut out, &table.headers);
    for row in &table.rows {
        push_record(&mut out, row);
    }
    out
}

/// Writes the table as CSV to `path` atomically (temp file + rename).
pub fn write_csv(path: &Path, table: &Table) -> Result<()> {
    write_atomic(path, to_csv(table).as_bytes())
}

/// Reads a CSV file written by [`write_csv`] (or any RFC 4180 file) back into a [`Table`].
pub fn read_csv(path: &Path) -> Result<Table> {
    let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| Error::format(path, Some(e.valid_up_to() as u64), "CSV is not valid UTF-8"))?;
    parse_csv(text, path)
}

/// Parses CSV text; the first record is the header. `source` names the file in errors.
///
/// Errors ([`Error::Format`] with the byte offset): empty input (no header), an unterminated
/// quoted field, text after a closing quote, a quote inside an unquoted field, and a row whose
/// field count differs from the header's.
pub fn parse_csv(text: &str, source: &Path) -> Result<Table> {
    // Offsets in errors are into the original text, BOM included.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let body = &text[bom..];
    let err =
        |offset: usize, reason: String| Error::format(source, Some((bom + offset) as u64), reason);

    let mut records: Vec<(usize, Vec<String>)> = Vec::new();
    let mut record: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut record_start = 0usize;
    // Byte offset of the opening quote while inside a quoted field.
    let mut open_quote: Option<usize> = None;
    // The current field was quoted and its closing quote has been seen.
    let mut closed_quote = false;

    let mut finish_record =
        |record: &mut Vec<String>, field: &mut String, closed: bool, start: usize| {
            let blank = record.is_empty() && field.is_empty() && !closed;
            record.push(std::mem::take(field));
            let r = std::mem::take(record);
            if !blank {
                records.push((start, r));
            }
        };

    let mut chars = body.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        if open_quote.is_some() {
            if ch == '"' {
                if chars.peek().map(|&(_, c)| c) == Some('"') {
                    field.push('"');
                    chars.next();
                } else {
                    open_quote = None;
                    closed_quote = true;
                }
            } else {
                field.push(ch);
            }
            continue;
        }
        match ch {
            ',' => {
                record.push(std::mem::take(&mut field));
                closed_quote = false;
            }
            '\r' | '\n' => {
                if ch == '\r' && chars.peek().map(|&(_, c)| c) == Some('\n') {
                    chars.next();
                }
                finish_record(&mut record, &mut field, closed_quote, record_start);
                closed_quote = false;
                record_start = chars.peek().map(|&(j, _)| j).unwrap_or(body.len());
            }
            '"' => {
                if !field.is_empty() || closed_quote {
                    return Err(err(i, "quote inside an unquoted field".into()));
                }
                open_quote = Some(i);
            }
            c => {
                if closed_quote {
                    return Err(err(i, format!("text {c:?} after a closing quote")));
                }
                field.push(c);
            }
        }
    }
    if let Some(q) = open_quote {
        return Err(err(q, "quoted field is never closed".into()));
    }
    if !record.is_empty() || !field.is_empty() || closed_quote {
        finish_record(&mut record, &mut field, closed_quote, record_start);
    }

    let mut records = records.into_iter();
    let (_, headers) = records
        .next()
        .ok_or_else(|| err(0, "empty CSV: no header line".into()))?;
    let mut rows = Vec::new();
    for (n, (start, row)) in records.enumerate() {
        if row.len() != headers.len() {
            return Err(err(
                start,
                format!(
                    "row {} has {} fields, the header has {}",
                    n + 1,
                    row.len(),
                    headers.len()
                ),
            ));
        }
        rows.push(row);
    }
    Ok(Table { headers, rows })
}
