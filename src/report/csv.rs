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

/// A record and the byte offset where it starts.
type Record = (usize, Vec<String>);

/// The CSV reader's state between characters.
#[derive(Default)]
struct Tokenizer {
    /// Finished records, each with the byte offset of its start.
    records: Vec<Record>,
    record: Vec<String>,
    field: String,
    record_start: usize,
    /// Byte offset of the opening quote while inside a quoted field.
    open_quote: Option<usize>,
    /// The current field was quoted and its closing quote has been seen.
    closed_quote: bool,
}

impl Tokenizer {
    /// Ends the current record (a blank line gives none).
    fn end_record(&mut self) {
        let blank = self.record.is_empty() && self.field.is_empty() && !self.closed_quote;
        self.record.push(std::mem::take(&mut self.field));
        let r = std::mem::take(&mut self.record);
        if !blank {
            self.records.push((self.record_start, r));
        }
        self.closed_quote = false;
    }
}

/// Splits CSV text into records, each with the byte offset of its start; an error is
/// `(offset, reason)`.
fn tokenize(body: &str) -> std::result::Result<Vec<Record>, (usize, String)> {
    let mut t = Tokenizer::default();
    let mut chars = body.char_indices().peekable();
    while let Some((i, ch)) = chars.next() {
        if t.open_quote.is_some() {
            if ch == '"' {
                if chars.peek().map(|&(_, c)| c) == Some('"') {
                    t.field.push('"');
                    chars.next();
                } else {
                    t.open_quote = None;
                    t.closed_quote = true;
                }
            } else {
                t.field.push(ch);
            }
            continue;
        }
        match ch {
            ',' => {
                t.record.push(std::mem::take(&mut t.field));
                t.closed_quote = false;
            }
            '\r' | '\n' => {
                if ch == '\r' && chars.peek().map(|&(_, c)| c) == Some('\n') {
                    chars.next();
                }
                t.end_record();
                t.record_start = chars.peek().map(|&(j, _)| j).unwrap_or(body.len());
            }
            '"' => {
                if !t.field.is_empty() || t.closed_quote {
                    return Err((i, "quote inside an unquoted field".into()));
                }
                t.open_quote = Some(i);
            }
            c => {
                if t.closed_quote {
                    return Err((i, format!("text {c:?} after a closing quote")));
                }
                t.field.push(c);
            }
        }
    }
    if let Some(q) = t.open_quote {
        return Err((q, "quoted field is never closed".into()));
    }
    if !t.record.is_empty() || !t.field.is_empty() || t.closed_quote {
        t.end_record();
    }
    Ok(t.records)
}

/// Parses CSV text; the first record is the header. `source` names the file in errors.
///
/// Errors ([`Error::Format`] with the byte offset): empty input (no header), an unterminated
/// quoted field, text after a closing quote, a quote inside an unquoted field, and a row whose
/// field count differs from the header's.
pub fn parse_csv(text: &str, source: &Path) -> Result<Table> {
    // Offsets in errors are into the original text, BOM included.
    let bom = if text.starts_with('\u{feff}') { 3 } else { 0 };
    let err =
        |offset: usize, reason: String| Error::format(source, Some((bom + offset) as u64), reason);
    let mut records = tokenize(&text[bom..])
        .map_err(|(offset, reason)| err(offset, reason))?
        .into_iter();
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
