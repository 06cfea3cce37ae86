//! A small table of strings, rendered three ways: aligned plain text for the terminal, GitHub
//! markdown, and an HTML `<table>`. Plus the number formatting the tables use.
//!
//! Cells are strings so the caller decides precision once (`fmt_mean_std`, `fmt_p_value`) and
//! every rendering shows the same digits. A column whose every non-empty body cell starts like a
//! number is right-aligned in all three renderings.

use super::escape_html;
use super::markdown::escape_inline;
use crate::error::{Error, Result};

/// A header row and body rows of preformatted cells.
///
/// The fields are public; rows shorter than the header (or longer) are rendered padded with
/// empty cells rather than rejected. [`Table::push_row`] checks the length.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table {
    /// Column titles.
    pub headers: Vec<String>,
    /// Body rows, one `Vec` of cells per row.
    pub rows: Vec<Vec<String>>,
}

impl Table {
    /// A table with these column titles and no rows.
    pub fn new<S: Into<String>>(headers: impl IntoIterator<Item = S>) -> Self {
        Table {
            headers: headers.into_iter().map(Into::into).collect(),
            rows: Vec::new(),
        }
    }

    /// Appends a row; `Err(Error::Shape)` unless it has exactly one cell per header.
    pub fn push_row<S: Into<String>>(&mut self, row: impl IntoIterator<Item = S>) -> Result<()> {
        let row: Vec<String> = row.into_iter().map(Into::into).collect();
        if row.len() != self.headers.len() {
            return Err(Error::shape(
                "Table::push_row",
                format!("{} cells (one per header)", self.headers.len()),
                format!("{} cells", row.len()),
            ));
        }
        self.rows.push(row);
        Ok(())
    }

    /// Number of columns: the longest of the header and the rows.
    pub fn n_cols(&self) -> usize {
        self.rows
            .iter()
            .map(Vec::len)
            .chain(std::iter::once(self.headers.len()))
            .max()
            .unwrap_or(0)
    }

    fn cell(row: &[String], c: usize) -> &str {
        row.get(c).map(String::as_str).unwrap_or("")
    }

    /// Per column: true when it should be right-aligned (every non-empty body cell looks
    /// numeric, and there is at least one).
    fn numeric_columns(&self) -> Vec<bool> {
        (0..self.n_cols())
            .map(|c| {
                let mut any = false;
                for row in &self.rows {
                    let cell = Self::cell(row, c).trim();
                    if cell.is_empty() {
                        continue;
                    }
                    if !looks_numeric(cell) {
                        return false;
                    }
                    any = true;
                }
                any
            })
            .collect()
    }

    /// Aligned plain text: columns separated by two spaces, a dashed rule under the header,
    /// numeric columns right-aligned. Widths count `char`s (so `±` is one column). Newlines in
    /// cells become spaces; trailing spaces are trimmed.
    pub fn to_text(&self) -> String {
        let n = self.n_cols();
        let numeric = self.numeric_columns();
        let flat = |s: &str| s.replace(['\r', '\n'], " ");
        let header: Vec<String> = (0..n).map(|c| flat(Self::cell(&self.headers, c))).collect();
        let body: Vec<Vec<String>> = self
            .rows
            .iter()
            .map(|r| (0..n).map(|c| flat(Self::cell(r, c))).collect())
            .collect();
        let widths: Vec<usize> = (0..n)
            .map(|c| {
                body.iter()
                    .map(|r| r[c].chars().count())
                    .chain(std::iter::once(header[c].chars().count()))
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[String]| -> String {
            let parts: Vec<String> = cells
                .iter()
                .enumerate()
                .map(|(c, s)| {
                    let pad = " ".repeat(widths[c] - s.chars().count());
                    if numeric[c] {
                        format!("{pad}{s}")
                    } else {
                        format!("{s}{pad}")
                    }
                })
                .collect();
            parts.join("  ").trim_end().to_string()
        };
        let mut out = line(&header);
        out.push('\n');
        let rule: Vec<String> = widths.iter().map(|&w| "-".repeat(w)).collect();
        out.push_str(&rule.join("  "));
        out.push('\n');
        for r in &body {
            out.push_str(&line(r));
            out.push('\n');
        }
        out
    }

    /// GitHub-flavoured markdown table; numeric columns get `---:` (right-aligned). Cell text is
    /// escaped (`|`, `*`, `_`, backticks, `<`...), newlines become spaces.
    pub fn to_markdown(&self) -> String {
        let n = self.n_cols();
        if n == 0 {
            return String::new();
        }
        let numeric = self.numeric_columns();
        let line = |row: &[String]| -> String {
            let cells: Vec<String> = (0..n)
                .map(|c| escape_inline(&Self::cell(row, c).replace(['\r', '\n'], " ")))
                .collect();
            format!("| {} |\n", cells.join(" | "))
        };
        let mut out = line(&self.headers);
        let rule: Vec<&str> = numeric
            .iter()
            .map(|&num| if num { "---:" } else { "---" })
            .collect();
        out.push_str(&format!("| {} |\n", rule.join(" | ")));
        for r in &self.rows {
            out.push_str(&line(r));
        }
        out
    }

    /// An HTML `<table>`; cells escaped, numeric columns carry `class="num"` (right-aligned by
    /// the report's CSS).
    pub fn to_html(&self) -> String {
        let n = self.n_cols();
        let numeric = self.numeric_columns();
        let attr = |c: usize| if numeric[c] { " class=\"num\"" } else { "" };
        let mut out = String::from("<table>\n<thead><tr>");
        for c in 0..n {
            out.push_str(&format!(
                "<th{}>{}</th>",
                attr(c),
                escape_html(Self::cell(&self.headers, c))
            ));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        for r in &self.rows {
            out.push_str("<tr>");
            for c in 0..n {
                out.push_str(&format!(
                    "<td{}>{}</td>",
                    attr(c),
                    escape_html(Self::cell(r, c))
                ));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>\n");
        out
    }
}

/// True for cells such as `93.02`, `-1e-3`, `+4`, `.5`, `93.02 ± 0.15`, `12%`, `NaN`, `inf`,
/// `n/a`: the first character after an optional sign is a digit (or a dot then a digit), or the
/// cell is one of the non-finite spellings.
fn looks_numeric(cell: &str) -> bool {
    if matches!(
        cell,
        "NaN" | "nan" | "inf" | "-inf" | "+inf" | "n/a" | "—" | "-"
    ) {
        return true;
    }
    let s = cell.strip_prefix(['-', '+', '−']).unwrap_or(cell);
    let mut chars = s.chars();
    match chars.next() {
        Some(c) if c.is_ascii_digit() => true,
        Some('.') => chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// `x` with `decimals` digits after the point. Non-finite values print as `NaN`, `inf`, `-inf`;
/// a value that rounds to zero never prints as `-0.00`.
pub fn fmt_fixed(x: f64, decimals: usize) -> String {
    if x.is_nan() {
        return "NaN".into();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf".into() } else { "-inf".into() };
    }
    let s = format!("{x:.decimals$}");
    match s.strip_prefix('-') {
        Some(rest) if rest.chars().all(|c| c == '0' || c == '.') => rest.to_string(),
        _ => s,
    }
}

/// `"93.02 ± 0.15"`: mean and standard deviation with the same number of decimals.
pub fn fmt_mean_std(mean: f64, std: f64, decimals: usize) -> String {
    format!(
        "{} ± {}",
        fmt_fixed(mean, decimals),
        fmt_fixed(std, decimals)
    )
}

/// A p-value: four decimals from 0.001 up (`0.0076`, `0.9016`, `1.0000`), two significant
/// digits in scientific notation below (`3.7e-6`), `0` for exactly zero, `NaN` when undefined.
pub fn fmt_p_value(p: f64) -> String {
    if p.is_nan() {
        "NaN".into()
    } else if p == 0.0 {
        "0".into()
    } else if p >= 1e-3 {
        fmt_fixed(p, 4)
    } else {
        format!("{p:.1e}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn looks_numeric_accepts_formatted_numbers_only() {
        for ok in ["93.02 ± 0.15", "-1e-3", ".5", "12%", "NaN", "0"] {
            assert!(looks_numeric(ok), "{ok}");
        }
        for bad in ["bp", "ENN (ours)", ".x", "", "+"] {
            assert!(!looks_numeric(bad), "{bad}");
        }
    }

    #[test]
    fn fmt_fixed_never_prints_negative_zero() {
        assert_eq!(fmt_fixed(-0.0001, 2), "0.00");
        assert_eq!(fmt_fixed(-0.0, 0), "0");
        assert_eq!(fmt_fixed(-0.5, 2), "-0.50");
        assert_eq!(fmt_fixed(f64::NEG_INFINITY, 2), "-inf");
    }

    #[test]
    fn fmt_p_value_switches_to_scientific_below_one_thousandth() {
        assert_eq!(fmt_p_value(0.0075739), "0.0076");
        assert_eq!(fmt_p_value(3.7088e-6), "3.7e-6");
        assert_eq!(fmt_p_value(1.0), "1.0000");
        assert_eq!(fmt_p_value(f64::NAN), "NaN");
    }
}
