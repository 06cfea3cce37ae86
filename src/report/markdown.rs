//! Markdown escaping shared by [`super::table`] and [`super::html::Report::to_markdown`].

/// Escapes text so GitHub markdown shows it literally inside a line or table cell: the
/// characters that start emphasis, code, links or table cells get a backslash, and `<`, `>`,
/// `&` become entities (GitHub passes raw HTML through).
pub(crate) fn escape_inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
            '\\' | '`' | '*' | '_' | '[' | ']' | '|' => {
                out.push('\\');
                out.push(ch);
            }
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            c => out.push(c),
        }
    }
    out
}

/// [`escape_inline`] per line, plus what makes a line start a block: a leading `#` (heading),
/// `-`/`+`/`=` (list item or setext underline), or `1.`/`1)` (ordered list) is escaped.
pub(crate) fn escape_paragraph(text: &str) -> String {
    text.lines()
        .map(|line| {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            let mut escaped = escape_inline(body);
            if escaped.starts_with(['#', '-', '+', '=']) {
                escaped.insert(0, '\\');
            } else {
                let digits = escaped.chars().take_while(char::is_ascii_digit).count();
                if digits > 0 && escaped[digits..].starts_with(['.', ')']) {
                    escaped.insert(digits, '\\');
                }
            }
            format!("{indent}{escaped}")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A fenced code block whose fence is longer than any run of backticks inside `text`, so the
/// text can never close it early.
pub(crate) fn code_block(text: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in text.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    let body = text.strip_suffix('\n').unwrap_or(text);
    format!("{fence}\n{body}\n{fence}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_inline_neutralizes_markup() {
        assert_eq!(escape_inline("a|b *c* <x>"), "a\\|b \\*c\\* &lt;x&gt;");
        assert_eq!(escape_inline("-0.5"), "-0.5");
        assert_eq!(escape_paragraph("# not a heading"), "\\# not a heading");
        assert_eq!(
            escape_paragraph("2. not a list\n- nor this"),
            "2\\. not a list\n\\- nor this"
        );
        assert_eq!(escape_paragraph("x-y"), "x-y");
    }

    #[test]
    fn code_block_fence_outgrows_inner_backticks() {
        assert_eq!(code_block("a ```` b"), "`````\na ```` b\n`````\n");
        assert_eq!(code_block("cargo run\n"), "```\ncargo run\n```\n");
    }
}
