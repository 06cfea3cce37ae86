//! [`line_plot`]: series drawn as polylines, with a legend.

use super::*;
use std::fmt::Write;

/// Series `i`'s colour and its `stroke-dasharray` attribute (empty for solid): the palette
/// first, then the same colours dashed.
pub(super) fn series_style(i: usize) -> (&'static str, String) {
    let color = PALETTE[i % PALETTE.len()];
    let dash = DASHES[(i / PALETTE.len()) % DASHES.len()];
    let dash_attr = if dash.is_empty() {
        String::new()
    } else {
        format!(" stroke-dasharray=\"{dash}\"")
    };
    (color, dash_attr)
}

/// The axes of a line plot: the extent of its usable points (unit ranges when there are none).
/// Returns the axes and whether any point was usable.
pub(super) fn line_axes(
    plot: &LinePlot,
    usable: impl Fn(&(f64, f64)) -> bool,
) -> (Axis, Axis, bool) {
    let all = || {
        plot.series
            .iter()
            .flat_map(|s| s.points.iter())
            .filter(|p| usable(p))
    };
    let x_ext = extent(all().map(|p| p.0));
    let y_ext = extent(all().map(|p| p.1));
    let xa = match x_ext {
        Some((lo, hi)) => Axis::linear(lo, hi),
        None => Axis::linear(0.0, 1.0),
    };
    let ya = match (y_ext, plot.log_y) {
        (Some((lo, hi)), true) => Axis::log10(lo, hi),
        (None, true) => Axis::log10(1.0, 10.0),
        (Some((lo, hi)), false) => Axis::linear(lo, hi),
        (None, false) => Axis::linear(0.0, 1.0),
    };
    (xa, ya, x_ext.is_some())
}

/// Series `i` as polylines over its runs of usable points, with markers when the points are
/// few (and always for an isolated point).
pub(super) fn draw_series(
    out: &mut String,
    (i, s): (usize, &Series),
    (xa, ya): (&Axis, &Axis),
    (x0, x1, y0, y1): Rect,
    usable: impl Fn(&(f64, f64)) -> bool,
) {
    let (color, dash_attr) = series_style(i);
    let _ = writeln!(out, "<g><title>{}</title>", esc(&s.name));
    // Split into runs of usable points; each run of >= 2 points is one polyline.
    let mut runs: Vec<Vec<(f64, f64)>> = vec![Vec::new()];
    for p in &s.points {
        if usable(p) {
            let px = (xa.map(p.0, x0, x1), ya.map(p.1, y1, y0));
            runs.last_mut().expect("runs is never empty").push(px);
        } else if !runs.last().expect("runs is never empty").is_empty() {
            runs.push(Vec::new());
        }
    }
    let n_usable: usize = runs.iter().map(Vec::len).sum();
    for run in &runs {
        if run.len() >= 2 {
            let pts: Vec<String> = run.iter().map(|(x, y)| format!("{x:.2},{y:.2}")).collect();
            let _ = writeln!(
                out,
                "<polyline fill=\"none\" stroke=\"{color}\" stroke-width=\"2\"{dash_attr} \
                 stroke-linejoin=\"round\" points=\"{}\"/>",
                pts.join(" ")
            );
        }
        // Markers when points are few enough to see, and always for an isolated point
        // (a one-point polyline is invisible).
        if n_usable <= 40 || run.len() == 1 {
            for (x, y) in run {
                let _ = writeln!(
                    out,
                    "<circle cx=\"{x:.2}\" cy=\"{y:.2}\" r=\"3\" fill=\"{color}\"/>"
                );
            }
        }
    }
    out.push_str("</g>\n");
}

/// The legend to the right of the plot; entries beyond the plot height are summarized.
pub(super) fn legend(out: &mut String, series: &[Series], (_, x1, y0, y1): Rect) {
    let max_entries = ((y1 - y0) / 20.0).floor().max(1.0) as usize;
    let lx = x1 + 16.0;
    for (i, s) in series.iter().enumerate() {
        let y = y0 + 10.0 + 20.0 * i as f64;
        if i + 1 == max_entries && series.len() > max_entries {
            let _ = writeln!(
                out,
                "<text x=\"{lx:.2}\" y=\"{:.2}\" fill=\"#555555\">+{} more</text>",
                y + 4.0,
                series.len() - i
            );
            break;
        }
        let (color, dash_attr) = series_style(i);
        let _ = writeln!(
            out,
            "<g><title>{}</title><line x1=\"{lx:.2}\" y1=\"{y:.2}\" x2=\"{:.2}\" y2=\"{y:.2}\" \
             stroke=\"{color}\" stroke-width=\"2\"{dash_attr}/>\
             <text x=\"{:.2}\" y=\"{:.2}\">{}</text></g>",
            esc(&s.name),
            lx + 22.0,
            lx + 28.0,
            y + 4.0,
            esc(&truncate_chars(&s.name, LEGEND_MAX_CHARS))
        );
    }
}

/// Renders a line chart as an SVG string (see the module docs for the robustness contract).
pub fn line_plot(plot: &LinePlot) -> String {
    let usable = |&(x, y): &(f64, f64)| x.is_finite() && y.is_finite() && (!plot.log_y || y > 0.0);
    let (xa, ya, any_usable) = line_axes(plot, usable);
    let right = if plot.series.is_empty() {
        MARGIN_RIGHT
    } else {
        LEGEND_WIDTH
    };
    let mut out = String::new();
    let rect = frame(
        &mut out,
        &plot.title,
        &plot.x_label,
        &plot.y_label,
        &xa,
        &ya,
        right,
    );
    if !any_usable {
        let (x0, x1, y0, y1) = rect;
        no_data(&mut out, x0, x1, y0, y1);
    }
    for (i, s) in plot.series.iter().enumerate() {
        draw_series(&mut out, (i, s), (&xa, &ya), rect, usable);
    }
    legend(&mut out, &plot.series, rect);
    out.push_str("</svg>\n");
    out
}
