//! The plot frame shared by both plots: the opened `<svg>`, background, title, grid, ticks,
//! axis labels, and the "no data" note.

use super::*;
use std::fmt::Write;

/// The plot rectangle `(x0, x1, y0, y1)` in SVG units (y0 top, y1 bottom).
pub(super) type Rect = (f64, f64, f64, f64);

/// The plot frame: background, title, grid, ticks, labels. Returns the opened SVG string and the
/// plot rectangle `(x0, x1, y0, y1)` (y0 top, y1 bottom).
pub(super) fn frame(
    out: &mut String,
    title: &str,
    x_label: &str,
    y_label: &str,
    xa: &Axis,
    ya: &Axis,
    right_margin: f64,
) -> Rect {
    let rect = (
        MARGIN_LEFT,
        WIDTH - right_margin,
        MARGIN_TOP,
        HEIGHT - MARGIN_BOTTOM,
    );
    open_svg(out, title, rect);
    grid(out, xa, ya, rect);
    ticks(out, xa, ya, rect);
    axis_labels(out, x_label, y_label, rect);
    rect
}

/// The `<svg>` element, a white background and the centred title.
pub(super) fn open_svg(out: &mut String, title: &str, (x0, x1, _, _): Rect) {
    let _ = write!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{WIDTH}\" height=\"{HEIGHT}\" \
         viewBox=\"0 0 {WIDTH} {HEIGHT}\" font-family=\"Helvetica, Arial, sans-serif\" \
         font-size=\"12\" role=\"img\">\n<title>{}</title>\n\
         <rect x=\"0\" y=\"0\" width=\"{WIDTH}\" height=\"{HEIGHT}\" fill=\"#ffffff\"/>\n\
         <text x=\"{:.1}\" y=\"24\" text-anchor=\"middle\" font-size=\"15\" \
         font-weight=\"bold\">{}</text>\n",
        esc(title),
        (x0 + x1) / 2.0,
        esc(title)
    );
}

/// Light grid lines at every tick, then the plot box.
pub(super) fn grid(out: &mut String, xa: &Axis, ya: &Axis, (x0, x1, y0, y1): Rect) {
    out.push_str("<g stroke=\"#e3e3e3\" stroke-width=\"1\">\n");
    for (u, _) in &xa.ticks {
        let x = xa.map_unit(*u, x0, x1);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.2}\" y1=\"{y0:.2}\" x2=\"{x:.2}\" y2=\"{y1:.2}\"/>"
        );
    }
    for (u, _) in &ya.ticks {
        let y = ya.map_unit(*u, y1, y0);
        let _ = writeln!(
            out,
            "<line x1=\"{x0:.2}\" y1=\"{y:.2}\" x2=\"{x1:.2}\" y2=\"{y:.2}\"/>"
        );
    }
    out.push_str("</g>\n");
    let _ = writeln!(
        out,
        "<rect x=\"{x0:.2}\" y=\"{y0:.2}\" width=\"{:.2}\" height=\"{:.2}\" fill=\"none\" \
         stroke=\"#333333\" stroke-width=\"1\"/>",
        x1 - x0,
        y1 - y0
    );
}

/// Tick marks and tick labels below the x axis and left of the y axis.
pub(super) fn ticks(out: &mut String, xa: &Axis, ya: &Axis, (x0, x1, y0, y1): Rect) {
    out.push_str("<g fill=\"#333333\">\n");
    for (u, label) in &xa.ticks {
        let x = xa.map_unit(*u, x0, x1);
        let _ = writeln!(
            out,
            "<line x1=\"{x:.2}\" y1=\"{y1:.2}\" x2=\"{x:.2}\" y2=\"{:.2}\" stroke=\"#333333\"/>\
             <text x=\"{x:.2}\" y=\"{:.2}\" text-anchor=\"middle\">{}</text>",
            y1 + 5.0,
            y1 + 19.0,
            esc(label)
        );
    }
    for (u, label) in &ya.ticks {
        let y = ya.map_unit(*u, y1, y0);
        let _ = writeln!(
            out,
            "<line x1=\"{:.2}\" y1=\"{y:.2}\" x2=\"{x0:.2}\" y2=\"{y:.2}\" stroke=\"#333333\"/>\
             <text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"end\">{}</text>",
            x0 - 5.0,
            x0 - 8.0,
            y + 4.0,
            esc(label)
        );
    }
    out.push_str("</g>\n");
}

/// The x label under the plot and the y label rotated along its left edge.
pub(super) fn axis_labels(out: &mut String, x_label: &str, y_label: &str, (x0, x1, y0, y1): Rect) {
    let _ = writeln!(
        out,
        "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\" font-size=\"13\">{}</text>",
        (x0 + x1) / 2.0,
        HEIGHT - 14.0,
        esc(x_label)
    );
    let (ly_x, ly_y) = (18.0, (y0 + y1) / 2.0);
    let _ = writeln!(
        out,
        "<text x=\"{ly_x:.2}\" y=\"{ly_y:.2}\" text-anchor=\"middle\" font-size=\"13\" \
         transform=\"rotate(-90 {ly_x:.2} {ly_y:.2})\">{}</text>",
        esc(y_label)
    );
}

pub(super) fn no_data(out: &mut String, x0: f64, x1: f64, y0: f64, y1: f64) {
    let _ = writeln!(
        out,
        "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\" fill=\"#888888\" \
         font-size=\"14\">no data</text>",
        (x0 + x1) / 2.0,
        (y0 + y1) / 2.0
    );
}

/// Min and max of an iterator of finite values; None when empty.
pub(super) fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}
