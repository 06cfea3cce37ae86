//! The built-in 3 × 5 pixel font for legend labels, and the labels' number format.

use super::*;
use crate::error::{Error, Result};

/// Tick labels are drawn at this multiple of the 3 × 5 font.
pub const LABEL_SCALE: usize = 2;

/// A 3 × 5 bitmap font: each glyph is five rows, the top first, of three bits (4 = left
/// pixel, 1 = right pixel).
pub(super) fn glyph(c: char) -> Option<[u8; 5]> {
    Some(match c {
        '0' => [7, 5, 5, 5, 7],
        '1' => [2, 6, 2, 2, 7],
        '2' => [7, 1, 7, 4, 7],
        '3' => [7, 1, 7, 1, 7],
        '4' => [5, 5, 7, 1, 1],
        '5' => [7, 4, 7, 1, 7],
        '6' => [7, 4, 7, 5, 7],
        '7' => [7, 1, 1, 1, 1],
        '8' => [7, 5, 7, 5, 7],
        '9' => [7, 5, 7, 1, 7],
        '.' => [0, 0, 0, 0, 2],
        '-' => [0, 0, 7, 0, 0],
        '+' => [0, 2, 7, 2, 0],
        'e' => [0, 3, 7, 4, 3],
        _ => return None,
    })
}

/// Width in pixels of `text` drawn by [`draw_text`] at `scale`: 3 columns and a 1-column gap
/// per character, no gap after the last.
pub fn text_width(text: &str, scale: usize) -> usize {
    let n = text.chars().count();
    (4 * n).saturating_sub(1) * scale
}

/// Draws `text` with its top-left corner at `(x, y)`, each font pixel a `scale × scale`
/// square of `color`; pixels off the image are skipped. `Err` for a character the font lacks.
pub fn draw_text(
    img: &mut RgbImage,
    x: usize,
    y: usize,
    text: &str,
    scale: usize,
    color: [u8; 3],
) -> Result<()> {
    for (k, c) in text.chars().enumerate() {
        let rows = glyph(c).ok_or_else(|| {
            Error::invalid("draw_text", format!("no glyph for {c:?} in {text:?}"))
        })?;
        for (r, bits) in rows.iter().enumerate() {
            for col in 0..3 {
                if bits & (4 >> col) == 0 {
                    continue;
                }
                for dy in 0..scale {
                    for dx in 0..scale {
                        let (px, py) = (x + (4 * k + col) * scale + dx, y + r * scale + dy);
                        if px < img.width && py < img.height {
                            img.set(px, py, color);
                        }
                    }
                }
            }
        }
    }
    Ok(())
}

/// The label of a tick at `v` on a range whose larger end has magnitude `span`: at least three
/// significant digits (no decimals from 100 on), trailing zeros dropped; exponent form below 1e-3 and from 1e4 on;
/// "0" for a value that is zero up to rounding (|v| < 1e-9 · span).
pub fn tick_label(v: f64, span: f64) -> String {
    let a = v.abs();
    if !v.is_finite() {
        return "0".into(); // resolve_range never gives a non-finite end
    }
    if a == 0.0 || a < 1e-9 * span {
        return "0".into();
    }
    let trim = |s: String| {
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    };
    if (1e-3..1e4).contains(&a) {
        let decimals = (2 - a.log10().floor() as i32).clamp(0, 5) as usize;
        trim(format!("{v:.decimals$}"))
    } else {
        let s = format!("{v:.2e}");
        let (mantissa, exp) = s.split_once('e').expect("exponent format");
        format!("{}e{exp}", trim(mantissa.to_string()))
    }
}

/// The legend's tick labels for the range `(lo, hi)`, bottom tick first.
pub fn legend_labels(lo: f64, hi: f64) -> Vec<String> {
    let span = lo.abs().max(hi.abs());
    LEGEND_TICKS
        .iter()
        .map(|&t| tick_label(lo + t * (hi - lo), span))
        .collect()
}
