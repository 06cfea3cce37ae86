//! SVG line and scatter plots, written by hand as strings.
//!
//! Both return a complete `<svg xmlns=...>` element (no XML prolog) that works inline in HTML
//! and as a standalone `.svg` file. Robustness is part of the contract: empty input, a single
//! point, constant values and non-finite values (skipped) all give a valid plot, never a panic
//! or a NaN coordinate. Axes get "nice" ticks (1, 2, 5 x 10^k steps) and the data range is
//! widened to whole ticks.

mod axis;
mod frame;
mod line;
mod scatter;

use super::escape_html as esc;
pub use axis::nice_ticks;
use axis::*;
use frame::*;
pub use line::line_plot;
pub use scatter::scatter_plot;

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
pub(super) const WIDTH: f64 = 760.0;
pub(super) const HEIGHT: f64 = 440.0;
pub(super) const MARGIN_LEFT: f64 = 74.0;
pub(super) const MARGIN_TOP: f64 = 40.0;
pub(super) const MARGIN_BOTTOM: f64 = 56.0;
pub(super) const LEGEND_WIDTH: f64 = 200.0;
pub(super) const MARGIN_RIGHT: f64 = 24.0;
/// Legend names longer than this are cut with an ellipsis (the full name is in a `<title>`).
pub(super) const LEGEND_MAX_CHARS: usize = 22;

/// Okabe & Ito's color-blind-safe palette (yellow dropped: unreadable on white), then gray.
pub(super) const PALETTE: [&str; 7] = [
    "#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000",
];
/// After the palette wraps, series are told apart by dashes.
pub(super) const DASHES: [&str; 3] = ["", "6 3", "2 3"];

#[cfg(test)]
mod tests {
    use super::scatter::least_squares;
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
