//! [`scatter_plot`]: points with an optional least-squares line.

use super::*;
use std::fmt::Write;

/// Ordinary least squares `y = a + b x`; None with fewer than two distinct x.
pub(super) fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
    if points.len() < 2 {
        return None;
    }
    let n = points.len() as f64;
    let mx = points.iter().map(|p| p.0).sum::<f64>() / n;
    let my = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mx) * (p.0 - mx)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
    if sxx == 0.0 {
        return None;
    }
    let b = sxy / sxx;
    let a = my - b * mx;
    (a.is_finite() && b.is_finite()).then_some((a, b))
}

/// The least-squares line through `xy`, clipped to the plot box, and its equation in the
/// top-left corner; nothing when the fit is undefined.
pub(super) fn fit_line(
    out: &mut String,
    xy: &[(f64, f64)],
    (xa, ya): (&Axis, &Axis),
    (x0, x1, y0, y1): Rect,
) {
    let Some((a, b)) = least_squares(xy) else {
        return;
    };
    // Clip the line to the plot box: x in [xa.lo, xa.hi] and a + b x in [ya.lo, ya.hi].
    let (mut lo, mut hi) = (xa.lo, xa.hi);
    if b != 0.0 {
        let (e0, e1) = ((ya.lo - a) / b, (ya.hi - a) / b);
        lo = lo.max(e0.min(e1));
        hi = hi.min(e0.max(e1));
    }
    if lo < hi {
        let _ = writeln!(
            out,
            "<line x1=\"{:.2}\" y1=\"{:.2}\" x2=\"{:.2}\" y2=\"{:.2}\" stroke=\"#D55E00\" \
             stroke-width=\"1.5\" stroke-dasharray=\"6 4\"/>",
            xa.map(lo, x0, x1),
            ya.map(a + b * lo, y1, y0),
            xa.map(hi, x0, x1),
            ya.map(a + b * hi, y1, y0)
        );
    }
    let _ = writeln!(
        out,
        "<text x=\"{:.2}\" y=\"{:.2}\" fill=\"#D55E00\">least squares: y = {} + {} x \
         (n = {})</text>",
        x0 + 8.0,
        y0 + 16.0,
        esc(&fmt_sig(a)),
        esc(&fmt_sig(b)),
        xy.len()
    );
}

/// The scatter's markers and their labels.
pub(super) fn draw_points(
    out: &mut String,
    pts: &[(f64, f64, &str)],
    (xa, ya): (&Axis, &Axis),
    (x0, x1, y0, y1): Rect,
) {
    out.push_str("<g fill=\"#0072B2\">\n");
    for (x, y, label) in pts {
        let (px, py) = (xa.map(*x, x0, x1), ya.map(*y, y1, y0));
        let _ = writeln!(
            out,
            "<circle cx=\"{px:.2}\" cy=\"{py:.2}\" r=\"4\" fill-opacity=\"0.8\"/>"
        );
        if !label.is_empty() {
            // Labels in the right fifth of the plot go to the left of their point, so they stay
            // inside the canvas.
            let (lx, anchor) = if px > x0 + 0.8 * (x1 - x0) {
                (px - 6.0, "end")
            } else {
                (px + 6.0, "start")
            };
            let _ = writeln!(
                out,
                "<text x=\"{lx:.2}\" y=\"{:.2}\" text-anchor=\"{anchor}\" font-size=\"10\" \
                 fill=\"#333333\">{}</text>",
                py - 6.0,
                esc(label)
            );
        }
    }
    out.push_str("</g>\n");
}

/// Renders a scatter plot as an SVG string (see the module docs for the robustness contract).
pub fn scatter_plot(plot: &ScatterPlot) -> String {
    let pts: Vec<(f64, f64, &str)> = plot
        .points
        .iter()
        .filter(|p| p.0.is_finite() && p.1.is_finite())
        .map(|p| (p.0, p.1, p.2.as_str()))
        .collect();
    // 5% breathing room on each side so no marker sits on the frame.
    let padded = |e: Option<(f64, f64)>| match e {
        Some((lo, hi)) => {
            let d = 0.05 * 2.0 * (hi / 2.0 - lo / 2.0);
            let (plo, phi) = (lo - d, hi + d);
            if plo.is_finite() && phi.is_finite() {
                Axis::linear(plo, phi)
            } else {
                Axis::linear(lo, hi)
            }
        }
        None => Axis::linear(0.0, 1.0),
    };
    let xa = padded(extent(pts.iter().map(|p| p.0)));
    let ya = padded(extent(pts.iter().map(|p| p.1)));
    let mut out = String::new();
    let rect = frame(
        &mut out,
        &plot.title,
        &plot.x_label,
        &plot.y_label,
        &xa,
        &ya,
        MARGIN_RIGHT,
    );
    if pts.is_empty() {
        let (x0, x1, y0, y1) = rect;
        no_data(&mut out, x0, x1, y0, y1);
    }
    if plot.fit_line {
        let xy: Vec<(f64, f64)> = pts.iter().map(|p| (p.0, p.1)).collect();
        fit_line(&mut out, &xy, (&xa, &ya), rect);
    }
    draw_points(&mut out, &pts, (&xa, &ya), rect);
    out.push_str("</svg>\n");
    out
}
