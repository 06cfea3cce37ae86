//! SVG line and scatter plots, written by hand as strings.
//!
//! Both return a complete `<svg xmlns=...>` element (no XML prolog) that works inline in HTML
//! and as a standalone `.svg` file. Robustness is part of the contract: empty input, a single
//! point, constant values and non-finite values (skipped) all give a valid plot, never a panic
//! or a NaN coordinate. Axes get "nice" ticks (1, 2, 5 x 10^k steps) and the data range is
//! widened to whole ticks.

use super::escape_html as esc;
use std::fmt::Write;

/// One named line of a [`LinePlot`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Series {
    /// Legend entry.
    pub name: String,
    /// `(x, y)` points, drawn in the order given. A non-finite point (or `y <= 0` on a log axis)
    /// is skipped and breaks the line there.
    pub points: Vec<(f64, f64)>,
}

/// A line chart with one or more series.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct LinePlot {
    /// Title above the plot.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// Lines, colored in order from a color-blind-safe palette (Okabe–Ito).
    pub series: Vec<Series>,
    /// Logarithmic y axis (ticks at powers of ten); non-positive y values are skipped.
    pub log_y: bool,
}

/// A scatter plot of labelled points.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScatterPlot {
    /// Title above the plot.
    pub title: String,
    /// Horizontal axis label.
    pub x_label: String,
    /// Vertical axis label.
    pub y_label: String,
    /// `(x, y, label)`; the label is written beside the point (empty for none). Non-finite
    /// points are skipped.
    pub points: Vec<(f64, f64, String)>,
    /// Draw the ordinary least-squares line `y = a + b x` over the finite points (needs two
    /// points with different x) and print its equation.
    pub fit_line: bool,
}

// Canvas geometry in SVG user units.
const WIDTH: f64 = 760.0;
const HEIGHT: f64 = 440.0;
const MARGIN_LEFT: f64 = 74.0;
const MARGIN_TOP: f64 = 40.0;
const MARGIN_BOTTOM: f64 = 56.0;
const LEGEND_WIDTH: f64 = 200.0;
const MARGIN_RIGHT: f64 = 24.0;
/// Legend names longer than this are cut with an ellipsis (the full name is in a `<title>`).
const LEGEND_MAX_CHARS: usize = 22;

/// Okabe & Ito's color-blind-safe palette (yellow dropped: unreadable on white), then gray.
const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
/// After the palette wraps, series are told apart by dashes.
const DASHES: [&str; 3] = ["", "6 3", "2 3"];

/// One axis: data interval mapped onto a pixel interval, plus its ticks.
struct Axis {
    lo: f64,
    hi: f64,
    ticks: Vec<(f64, String)>,
    /// log10 axis: `lo`, `hi` and tick positions are in log10 units.
    log: bool,
}

impl Axis {
    /// Linear axis covering `[min, max]` (finite, `min <= max`), widened to whole ticks.
    fn linear(min: f64, max: f64) -> Axis {
        let (mut lo, mut hi) = (min, max);
        if lo == hi {
            let pad = if lo == 0.0 { 1.0 } else { lo.abs() * 0.1 };
            lo -= pad;
            hi += pad;
        }
        let mut ticks = nice_ticks(lo, hi, 6);
        if ticks.len() >= 2 {
            // Widen to the tick just outside each end so the data never touch the frame and
            // the axis ends on a labelled value.
            let step = ticks[1] - ticks[0];
            if ticks[0] > lo {
                ticks.insert(0, ticks[0] - step);
            }
            if ticks[ticks.len() - 1] < hi {
                ticks.push(ticks[ticks.len() - 1] + step);
            }
            lo = ticks[0];
            hi = ticks[ticks.len() - 1];
        }
        if !(lo.is_finite() && hi.is_finite() && lo < hi) {
            // Widening overflowed (data near f64::MAX): plain ends, no ticks inside.
            let (lo, hi) = if min < max {
                (min, max)
            } else {
                (min - 1.0, max + 1.0)
            };
            return Axis {
                lo,
                hi,
                ticks: Vec::new(),
                log: false,
            };
        }
        let labels = tick_labels(&ticks);
        Axis {
            lo,
            hi,
            ticks: ticks.into_iter().zip(labels).collect(),
            log: false,
        }
    }

    /// log10 axis covering `[min, max]` (both > 0), widened to whole decades.
    fn log10(min: f64, max: f64) -> Axis {
        let mut lo = min.log10().floor();
        let mut hi = max.log10().ceil();
        if lo == hi {
            lo -= 1.0;
            hi += 1.0;
        }
        let decades = hi - lo;
        let mut ticks = Vec::new();
        // At most ~8 labelled decades; with a range of one or two decades, also label 2 and 5.
        let stride = (decades / 8.0).ceil().max(1.0);
        // Labelled decades are multiples of the stride, so 10^0 = 1 is always one of them when
        // it is in range.
        let mut k = (lo / stride).ceil() * stride;
        while k <= hi + 1e-9 {
            ticks.push((k, decade_label(k)));
            if decades <= 2.0 && k < hi {
                for m in [2.0f64, 5.0] {
                    let v = m * 10f64.powf(k);
                    ticks.push((v.log10(), fmt_tick(v, 10f64.powf(k))));
                }
            }
            k += stride;
        }
        Axis {
            lo,
            hi,
            ticks,
            log: true,
        }
    }

    /// Position of data value `v` along `[p0, p1]` (p1 may be < p0 for the y axis).
    fn map(&self, v: f64, p0: f64, p1: f64) -> f64 {
        self.map_unit(if self.log { v.log10() } else { v }, p0, p1)
    }

    /// Same, for a tick already in axis units. Halved operands keep `u - lo` and `hi - lo`
    /// finite even for data near f64::MAX.
    fn map_unit(&self, u: f64, p0: f64, p1: f64) -> f64 {
        p0 + (u / 2.0 - self.lo / 2.0) / (self.hi / 2.0 - self.lo / 2.0) * (p1 - p0)
    }
}

/// Ticks at multiples of a 1, 2 or 5 x 10^k step inside `[lo, hi]`, about `target` of them
/// (Heckbert, "Nice numbers for graph labels", Graphics Gems 1990). Falls back to the two ends
/// when the range is not finite or too narrow for f64 to step through.
pub fn nice_ticks(lo: f64, hi: f64, target: usize) -> Vec<f64> {
    if !(lo.is_finite() && hi.is_finite()) || lo > hi {
        return Vec::new();
    }
    // Halves avoid overflow of hi - lo for values near f64::MAX.
    let span = 2.0 * (hi / 2.0 - lo / 2.0);
    let step = nice_step(span / target.max(1) as f64);
    if !(step.is_finite() && step > 0.0) {
        return vec![lo, hi];
    }
    let (first, last) = ((lo / step).ceil(), (hi / step).floor());
    let count = last - first + 1.0;
    if !(1.0..=100.0).contains(&count) || first + 1.0 == first {
        return vec![lo, hi];
    }
    (0..count as usize)
        .map(|i| {
            let v = (first + i as f64) * step;
            // Multiples like 3 * 0.1 = 0.30000000000000004: snap tiny residue near zero.
            if v.abs() < step * 1e-9 {
                0.0
            } else {
                v
            }
        })
        .collect()
}

/// The nearest of 1, 2, 5, 10 times a power of ten to `rough`.
fn nice_step(rough: f64) -> f64 {
    if !(rough.is_finite() && rough > 0.0) {
        return f64::NAN;
    }
    let mag = 10f64.powf(rough.log10().floor());
    let frac = rough / mag;
    let nice = if frac < 1.5 {
        1.0
    } else if frac < 3.0 {
        2.0
    } else if frac < 7.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

/// Labels for evenly spaced ticks: as many decimals as the step needs.
fn tick_labels(ticks: &[f64]) -> Vec<String> {
    let step = if ticks.len() > 1 {
        (ticks[1] - ticks[0]).abs()
    } else {
        ticks.first().map(|t| t.abs()).unwrap_or(1.0)
    };
    ticks.iter().map(|&t| fmt_tick(t, step)).collect()
}

/// `v` with the decimals a tick step of `step` needs; scientific outside [1e-4, 1e6).
fn fmt_tick(v: f64, step: f64) -> String {
    if v == 0.0 {
        return "0".into();
    }
    let a = v.abs();
    if !(1e-4..1e6).contains(&a) {
        // Scientific with up to three significant digits, trailing zeros dropped: 1.5e7.
        let sci = format!("{v:.2e}");
        let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
        let mantissa = mantissa.trim_end_matches('0').trim_end_matches('.');
        return format!("{mantissa}e{exp}");
    }
    let mut decimals = 0usize;
    let mut s = step;
    while decimals < 10 && s.is_finite() && s > 0.0 && (s - s.round()).abs() > s * 1e-6 {
        s *= 10.0;
        decimals += 1;
    }
    let text = format!("{v:.decimals$}");
    if text
        .strip_prefix('-')
        .is_some_and(|r| r.chars().all(|c| c == '0' || c == '.'))
    {
        text[1..].to_string()
    } else {
        text
    }
}

/// 10^k as a plain number for k in -4..=5, else `1e{k}`.
fn decade_label(k: f64) -> String {
    let k = k.round() as i32;
    if (-4..=5).contains(&k) {
        fmt_tick(10f64.powi(k), 10f64.powi(k))
    } else {
        format!("1e{k}")
    }
}

/// Four significant digits, for equations.
fn fmt_sig(v: f64) -> String {
    if v == 0.0 || !v.is_finite() {
        return format!("{v}");
    }
    let a = v.abs();
    if !(1e-3..1e5).contains(&a) {
        return format!("{v:.3e}");
    }
    let decimals = (3 - a.log10().floor() as i32).max(0) as usize;
    format!("{v:.decimals$}")
}

fn truncate_chars(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// The plot rectangle `(x0, x1, y0, y1)` in SVG units (y0 top, y1 bottom).
type Rect = (f64, f64, f64, f64);

/// The plot frame: background, title, grid, ticks, labels. Returns the opened SVG string and the
/// plot rectangle `(x0, x1, y0, y1)` (y0 top, y1 bottom).
fn frame(
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
fn open_svg(out: &mut String, title: &str, (x0, x1, _, _): Rect) {
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
fn grid(out: &mut String, xa: &Axis, ya: &Axis, (x0, x1, y0, y1): Rect) {
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
fn ticks(out: &mut String, xa: &Axis, ya: &Axis, (x0, x1, y0, y1): Rect) {
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
fn axis_labels(out: &mut String, x_label: &str, y_label: &str, (x0, x1, y0, y1): Rect) {
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

fn no_data(out: &mut String, x0: f64, x1: f64, y0: f64, y1: f64) {
    let _ = writeln!(
        out,
        "<text x=\"{:.2}\" y=\"{:.2}\" text-anchor=\"middle\" fill=\"#888888\" \
         font-size=\"14\">no data</text>",
        (x0 + x1) / 2.0,
        (y0 + y1) / 2.0
    );
}

/// Min and max of an iterator of finite values; None when empty.
fn extent(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// Series `i`'s colour and its `stroke-dasharray` attribute (empty for solid): the palette
/// first, then the same colours dashed.
fn series_style(i: usize) -> (&'static str, String) {
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
fn line_axes(plot: &LinePlot, usable: impl Fn(&(f64, f64)) -> bool) -> (Axis, Axis, bool) {
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
fn draw_series(
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
fn legend(out: &mut String, series: &[Series], (_, x1, y0, y1): Rect) {
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

/// Ordinary least squares `y = a + b x`; None with fewer than two distinct x.
fn least_squares(points: &[(f64, f64)]) -> Option<(f64, f64)> {
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
fn fit_line(out: &mut String, xy: &[(f64, f64)], (xa, ya): (&Axis, &Axis), (x0, x1, y0, y1): Rect) {
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
fn draw_points(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_ticks_use_one_two_five_steps() {
        assert_eq!(
            nice_ticks(0.0, 1.0, 5),
            vec![0.0, 0.2, 0.4, 0.6000000000000001, 0.8, 1.0]
        );
        assert_eq!(
            nice_ticks(0.0, 100.0, 6),
            vec![0.0, 20.0, 40.0, 60.0, 80.0, 100.0]
        );
        assert_eq!(nice_ticks(-3.0, 7.0, 6), vec![-2.0, 0.0, 2.0, 4.0, 6.0]);
        assert!(nice_ticks(f64::NAN, 1.0, 5).is_empty());
        // Range too narrow to step through at this magnitude: the two ends.
        assert_eq!(nice_ticks(1e17, 1e17 + 16.0, 6).len(), 2);
    }

    #[test]
    fn tick_labels_carry_the_decimals_of_the_step() {
        assert_eq!(tick_labels(&[0.0, 0.25, 0.5]), vec!["0", "0.25", "0.50"]);
        assert_eq!(tick_labels(&[90.0, 92.0, 94.0]), vec!["90", "92", "94"]);
        assert_eq!(fmt_tick(-0.0, 0.1), "0");
        assert_eq!(decade_label(-3.0), "0.001");
        assert_eq!(decade_label(7.0), "1e7");
    }

    #[test]
    fn least_squares_recovers_an_exact_line() {
        let pts = [(0.0, 1.0), (1.0, 3.0), (2.0, 5.0)];
        assert_eq!(least_squares(&pts), Some((1.0, 2.0)));
        assert_eq!(least_squares(&[(1.0, 1.0), (1.0, 2.0)]), None);
    }
}
