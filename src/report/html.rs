//! The [`Report`] builder: a sequence of headings, paragraphs, tables, figures and code blocks,
//! rendered as one self-contained HTML page (inline CSS, inline SVG, PNGs as base64 `data:`
//! URIs; it opens from disk without a server) and as a markdown twin that links image files
//! written next to it.

use super::markdown::{code_block, escape_inline, escape_paragraph};
use super::table::Table;
use super::{base64, escape_html};
use crate::error::Result;
use crate::io::atomic::write_atomic;
use std::path::Path;

#[derive(Debug, Clone)]
enum Block {
    Heading(String),
    Paragraph(String),
    Table(Table),
    Svg { caption: String, svg: String },
    Png { caption: String, bytes: Vec<u8> },
    Code(String),
}

/// A report under construction. Blocks appear in the order they are added; figures are
/// numbered in that order ("Figure 1", ...).
///
/// ```
/// use grad_instructor::report::{Report, Table};
/// let mut t = Table::new(["arm", "accuracy"]);
/// t.push_row(["bp", "93.02 ± 0.15"]).unwrap();
/// let mut r = Report::new("Run summary");
/// r.heading("Accuracy").table(&t).code("cargo run --release -- train");
/// assert!(r.to_html().contains("93.02 ± 0.15"));
/// ```
#[derive(Debug, Clone)]
pub struct Report {
    title: String,
    blocks: Vec<Block>,
}

/// Directory (relative to the report) that [`Report::write`] puts image files in.
pub const IMAGE_DIR: &str = "images";

const CSS: &str = "\
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;\
margin:2em auto;padding:0 1em;color:#222;line-height:1.45}\
h1{border-bottom:2px solid #ddd;padding-bottom:.3em}\
h2{margin-top:1.8em;border-bottom:1px solid #eee;padding-bottom:.2em}\
table{border-collapse:collapse;margin:1em 0;font-size:.95em}\
th,td{border:1px solid #ccc;padding:.35em .7em;text-align:left;vertical-align:top}\
th{background:#f3f3f3}tbody tr:nth-child(even){background:#fafafa}\
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}\
figure{margin:1.2em 0}figcaption{color:#555;font-size:.92em;margin-top:.4em}\
figure svg{max-width:100%;height:auto;border:1px solid #eee}\
figure img{max-width:100%;image-rendering:pixelated;border:1px solid #eee}\
pre{background:#f6f8fa;padding:.8em;overflow-x:auto;border-radius:4px}\
code{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:.9em}";

impl Report {
    /// An empty report with this title (the page's `<title>` and top heading).
    pub fn new(title: impl Into<String>) -> Self {
        Report {
            title: title.into(),
            blocks: Vec::new(),
        }
    }

    /// A section heading (`<h2>`, `##`).
    pub fn heading(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Heading(text.into()));
        self
    }

    /// A paragraph of plain text (escaped; no markup is interpreted).
    pub fn paragraph(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Paragraph(text.into()));
        self
    }

    /// A table (copied).
    pub fn table(&mut self, table: &Table) -> &mut Self {
        self.blocks.push(Block::Table(table.clone()));
        self
    }

    /// An SVG figure. The SVG is inlined verbatim in the HTML, so it must come from a trusted
    /// generator such as [`super::svg`]; it is also written as a `.svg` file for the markdown.
    pub fn svg(&mut self, caption: impl Into<String>, svg: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Svg {
            caption: caption.into(),
            svg: svg.into(),
        });
        self
    }

    /// A PNG figure (bytes of a PNG file, e.g. from [`super::png::heatmap_png`]).
    pub fn png(&mut self, caption: impl Into<String>, bytes: Vec<u8>) -> &mut Self {
        self.blocks.push(Block::Png {
            caption: caption.into(),
            bytes,
        });
        self
    }

    /// A verbatim code block, e.g. the exact command line that produced the numbers.
    pub fn code(&mut self, text: impl Into<String>) -> &mut Self {
        self.blocks.push(Block::Code(text.into()));
        self
    }

    /// File names of the figures, in order: `fig-01-<slug>.svg|png`, the slug made from the
    /// caption.
    fn figure_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        for block in &self.blocks {
            let (caption, ext) = match block {
                Block::Svg { caption, .. } => (caption, "svg"),
                Block::Png { caption, .. } => (caption, "png"),
                _ => continue,
            };
            let slug = slug(caption);
            let n = names.len() + 1;
            names.push(if slug.is_empty() {
                format!("fig-{n:02}.{ext}")
            } else {
                format!("fig-{n:02}-{slug}.{ext}")
            });
        }
        names
    }

    /// The image files the markdown refers to: `(path relative to the report, bytes)`, with
    /// paths `image_dir/fig-NN-slug.ext` (just the file name when `image_dir` is empty).
    pub fn image_files(&self, image_dir: &str) -> Vec<(String, Vec<u8>)> {
        let names = self.figure_names();
        let mut files = Vec::new();
        let mut k = 0;
        for block in &self.blocks {
            let bytes = match block {
                Block::Svg { svg, .. } => svg.as_bytes().to_vec(),
                Block::Png { bytes, .. } => bytes.clone(),
                _ => continue,
            };
            files.push((join_rel(image_dir, &names[k]), bytes));
            k += 1;
        }
        files
    }

    /// The complete HTML page.
    pub fn to_html(&self) -> String {
        let mut out = format!(
            "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
             <title>{}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<h1>{}</h1>\n",
            escape_html(&self.title),
            escape_html(&self.title)
        );
        let mut fig = 0;
        for block in &self.blocks {
            match block {
                Block::Heading(t) => out.push_str(&format!("<h2>{}</h2>\n", escape_html(t))),
                Block::Paragraph(t) => out.push_str(&format!("<p>{}</p>\n", escape_html(t))),
                Block::Table(t) => out.push_str(&t.to_html()),
                Block::Svg { caption, svg } => {
                    fig += 1;
                    out.push_str(&format!(
                        "<figure>\n{}\n<figcaption><b>Figure {fig}.</b> {}</figcaption>\n</figure>\n",
                        svg.trim(),
                        escape_html(caption)
                    ));
                }
                Block::Png { caption, bytes } => {
                    fig += 1;
                    out.push_str(&format!(
                        "<figure>\n<img alt=\"{}\" src=\"data:image/png;base64,{}\">\n\
                         <figcaption><b>Figure {fig}.</b> {}</figcaption>\n</figure>\n",
                        escape_html(caption),
                        base64::encode(bytes),
                        escape_html(caption)
                    ));
                }
                Block::Code(t) => {
                    out.push_str(&format!("<pre><code>{}</code></pre>\n", escape_html(t)))
                }
            }
        }
        out.push_str("</body>\n</html>\n");
        out
    }

    /// The report as GitHub markdown; figures are image links to
    /// `image_dir/fig-NN-slug.ext` (see [`Report::image_files`] for the bytes to put there).
    pub fn to_markdown(&self, image_dir: &str) -> String {
        let names = self.figure_names();
        let mut out = format!("# {}\n\n", escape_inline(&self.title));
        let mut fig = 0;
        for block in &self.blocks {
            match block {
                Block::Heading(t) => out.push_str(&format!("## {}\n\n", escape_inline(t))),
                Block::Paragraph(t) => out.push_str(&format!("{}\n\n", escape_paragraph(t))),
                Block::Table(t) => {
                    out.push_str(&t.to_markdown());
                    out.push('\n');
                }
                Block::Svg { caption, .. } | Block::Png { caption, .. } => {
                    let path = join_rel(image_dir, &names[fig]);
                    fig += 1;
                    let cap = escape_inline(&caption.replace(['\r', '\n'], " "));
                    out.push_str(&format!(
                        "![{cap}](<{path}>)\n\n**Figure {fig}.** {cap}\n\n"
                    ));
                }
                Block::Code(t) => {
                    out.push_str(&code_block(t));
                    out.push('\n');
                }
            }
        }
        out
    }

    /// Writes `dir/report.html`, `dir/report.md` and the figures under `dir/images/`, each file
    /// atomically (temp file + rename), images first so the pages never link a missing file.
    pub fn write(&self, dir: &Path) -> Result<()> {
        for (rel, bytes) in self.image_files(IMAGE_DIR) {
            write_atomic(&dir.join(rel), &bytes)?;
        }
        write_atomic(
            &dir.join("report.md"),
            self.to_markdown(IMAGE_DIR).as_bytes(),
        )?;
        write_atomic(&dir.join("report.html"), self.to_html().as_bytes())
    }
}

/// `dir/name` with a forward slash (markdown links), or `name` when `dir` is empty.
fn join_rel(dir: &str, name: &str) -> String {
    let dir = dir.trim_end_matches('/');
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Lower-case ASCII letters and digits from `text`, other runs collapsed to one `-`, at most 40
/// characters: safe in any file system and URL.
fn slug(text: &str) -> String {
    let mut s = String::new();
    for ch in text.chars() {
        if ch.is_ascii_alphanumeric() {
            s.push(ch.to_ascii_lowercase());
        } else if !s.is_empty() && !s.ends_with('-') {
            s.push('-');
        }
        if s.len() >= 40 {
            break;
        }
    }
    s.trim_end_matches('-').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slug_keeps_ascii_words_only() {
        assert_eq!(slug("Loss vs. step (log y)"), "loss-vs-step-log-y");
        assert_eq!(slug("±±"), "");
        assert!(slug(&"a".repeat(100)).len() <= 40);
    }

    #[test]
    fn figures_are_numbered_in_order_across_kinds() {
        let mut r = Report::new("t");
        r.svg("Loss", "<svg/>")
            .paragraph("x")
            .png("W1 heatmap", vec![1, 2]);
        let files = r.image_files("images");
        assert_eq!(files[0].0, "images/fig-01-loss.svg");
        assert_eq!(files[1].0, "images/fig-02-w1-heatmap.png");
        assert_eq!(files[1].1, vec![1, 2]);
        assert!(r
            .to_markdown("images")
            .contains("](<images/fig-02-w1-heatmap.png>)"));
    }
}
