//! Reports: tables, CSV/JSON, PNG heatmaps, SVG plots, and a self-contained HTML page (plus a
//! markdown twin).
//!
//! A leaf: it only formats numbers it is handed. It depends on [`crate::error`] and
//! [`crate::io::atomic::write_atomic`] (every file it writes goes through a temp file + rename)
//! and on nothing else of the crate; it never imports the training layers.
//!
//! | module | what it makes |
//! |---|---|
//! | [`table`] | [`Table`] as aligned text, GitHub markdown or HTML; number formatting |
//! | [`csv`] | CSV write (quoted as needed) and read back (for merging runs) |
//! | [`json`] | pretty JSON written atomically, read back |
//! | [`png`] | a PNG encoder (zlib IDAT and chunk CRC-32 via flate2), colormaps, heatmaps with a legend |
//! | [`svg`] | hand-written SVG line and scatter plots |
//! | [`base64`] | RFC 4648 base64, for `data:` URIs |
//! | [`html`] | the [`Report`] builder: `report.html`, `report.md` and image files |
//! | `markdown` (private) | markdown escaping shared by `table` and `Report::to_markdown` |
//!
//! base64 is written here (about 20 lines, tested against the RFC 4648 vectors) rather than
//! added as a dependency; CRC-32 comes from `flate2`, which the crate already has for gzip.

pub mod base64;
pub mod csv;
pub mod html;
pub mod json;
mod markdown;
pub mod png;
pub mod svg;
pub mod table;

pub use html::Report;
pub use png::{heatmap_png, Colormap, HeatmapOptions, ValueRange};
pub use svg::{line_plot, scatter_plot, LinePlot, ScatterPlot, Series};
pub use table::{fmt_fixed, fmt_mean_std, fmt_p_value, Table};

/// Escapes text for HTML/XML element content and attribute values (both quote kinds).
pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than tab/newline are not allowed in XML 1.0; drop them so
            // an SVG file stays well-formed whatever label it is given.
            c if (c as u32) < 0x20 && c != '\t' && c != '\n' && c != '\r' => {}
            c => out.push(c),
        }
    }
    out
}
