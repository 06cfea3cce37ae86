//! Heatmaps: values through a colormap over a range, upscaled, with an optional legend.

use super::*;
use crate::error::{Error, Result};

/// Color of a NaN cell in a heatmap: mid gray, outside both colormaps' hues.
pub const NAN_GRAY: [u8; 3] = [128, 128, 128];
/// Legend frame and tick color.
pub(super) const INK: [u8; 3] = [40, 40, 40];
pub(super) const WHITE: [u8; 3] = [255, 255, 255];

/// Which values map to the ends of the colormap.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum ValueRange {
    /// The finite minimum and maximum of the data.
    #[default]
    Auto,
    /// `[-m, m]` with `m` the largest finite `|value|`: zero maps to the colormap's center.
    SymmetricAroundZero,
    /// Exactly `[min, max]` (values outside are clamped to the end colors).
    Fixed {
        /// Value at t = 0.
        min: f32,
        /// Value at t = 1.
        max: f32,
    },
}

/// How [`heatmap_png`] draws.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct HeatmapOptions {
    /// Color scale.
    pub colormap: Colormap,
    /// Value range mapped onto the colormap.
    pub range: ValueRange,
    /// Each value becomes `scale_x` pixels wide (nearest-neighbour upscaling), >= 1.
    pub scale_x: usize,
    /// Each value becomes `scale_y` pixels tall, >= 1.
    pub scale_y: usize,
    /// Draw a gradient strip with tick marks to the right of the map.
    pub legend: bool,
}

impl Default for HeatmapOptions {
    fn default() -> Self {
        HeatmapOptions {
            colormap: Colormap::Viridis,
            range: ValueRange::Auto,
            scale_x: 1,
            scale_y: 1,
            legend: true,
        }
    }
}

/// The `(low, high)` values that [`heatmap_png`] maps to the colormap ends, for captions.
///
/// Degenerate data still gives a usable, strictly increasing range: no finite value gives
/// `(0, 1)` (Auto) or `(-1, 1)` (symmetric); a constant `v` gives `(v - 0.5, v + 0.5)` (Auto,
/// so the map shows the middle color) and all zeros give `(-1, 1)` (symmetric).
/// `Err(Error::InvalidArgument)` for a `Fixed` range that is not finite and increasing.
pub fn resolve_range(values: &[f32], range: ValueRange) -> Result<(f32, f32)> {
    let finite = values.iter().copied().filter(|v| v.is_finite());
    match range {
        ValueRange::Fixed { min, max } => {
            if min.is_finite() && max.is_finite() && min < max {
                Ok((min, max))
            } else {
                Err(Error::invalid(
                    "heatmap range",
                    format!("Fixed range must be finite with min < max, got [{min}, {max}]"),
                ))
            }
        }
        ValueRange::Auto => {
            let (lo, hi) = finite.fold((f32::INFINITY, f32::NEG_INFINITY), |(lo, hi), v| {
                (lo.min(v), hi.max(v))
            });
            if lo > hi {
                Ok((0.0, 1.0))
            } else if lo == hi {
                Ok((lo - 0.5, hi + 0.5))
            } else {
                Ok((lo, hi))
            }
        }
        ValueRange::SymmetricAroundZero => {
            let m = finite.fold(0.0f32, |m, v| m.max(v.abs()));
            let m = if m > 0.0 { m } else { 1.0 };
            Ok((-m, m))
        }
    }
}

/// An 8-bit RGB image, row-major.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RgbImage {
    /// Width in pixels.
    pub width: usize,
    /// Height in pixels.
    pub height: usize,
    /// `height * width * 3` bytes.
    pub pixels: Vec<u8>,
}

impl RgbImage {
    fn new(width: usize, height: usize, fill: [u8; 3]) -> Self {
        RgbImage {
            width,
            height,
            pixels: fill.repeat(width * height),
        }
    }

    pub(super) fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
        let i = 3 * (y * self.width + x);
        self.pixels[i..i + 3].copy_from_slice(&c);
    }

    /// The pixel at column `x`, row `y`. Panics when out of bounds (a test helper).
    pub fn get(&self, x: usize, y: usize) -> [u8; 3] {
        let i = 3 * (y * self.width + x);
        [self.pixels[i], self.pixels[i + 1], self.pixels[i + 2]]
    }

    /// PNG bytes of this image.
    pub fn to_png(&self) -> Result<Vec<u8>> {
        encode_png(self.width, self.height, PngColor::Rgb8, &self.pixels)
    }
}

// Legend geometry, in pixels.
pub(super) const LEGEND_GAP: usize = 8; // white space between map and strip
pub(super) const LEGEND_STRIP: usize = 14; // gradient width, inside a 1-pixel frame
pub(super) const LEGEND_TICK: usize = 4; // tick length; the middle tick is twice as long
pub(super) const LEGEND_MIN_HEIGHT: usize = 64; // a shorter map gets white space below it
/// Ticks at these fractions of the range (bottom = low, top = high).
pub(super) const LEGEND_TICKS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
pub(super) const LABEL_GAP: usize = 3; // between the longest tick and its label
/// Renders the heatmap as an RGB image (what [`heatmap_png`] encodes).
///
/// Layout: the map occupies columns `0..w*scale_x`, rows `0..h*scale_y`, value `(r, c)` filling
/// the block at `(c*scale_x.., r*scale_y..)`. With a legend, a framed vertical gradient (high at
/// the top) follows after a white gap, with ticks on its right at 0, 1/4, 1/2, 3/4 and 1 of the
/// range (the 1/2 tick, which is zero for a symmetric range, is longer), each followed by its
/// value ([`legend_labels`], drawn by [`draw_text`], vertically centred on the tick); the
/// canvas is at least 64 pixels tall so the strip and its labels stay readable.
pub fn heatmap_rgb(values: &[f32], h: usize, w: usize, opts: &HeatmapOptions) -> Result<RgbImage> {
    check_heatmap_input(values, h, w, opts)?;
    let map_w = w.saturating_mul(opts.scale_x);
    let map_h = h.saturating_mul(opts.scale_y);
    let legend_x = map_w.saturating_add(LEGEND_GAP);
    let (lo, hi) = resolve_range(values, opts.range)?;
    let (lo, hi) = (lo as f64, hi as f64);
    let labels = legend_labels(lo, hi);
    let label_w = labels
        .iter()
        .map(|l| text_width(l, LABEL_SCALE))
        .max()
        .unwrap_or(0);
    let (canvas_w, canvas_h) = if opts.legend {
        (
            legend_x.saturating_add(LEGEND_STRIP + 2 + 2 * LEGEND_TICK + LABEL_GAP + label_w + 1),
            map_h.max(LEGEND_MIN_HEIGHT),
        )
    } else {
        (map_w, map_h)
    };
    if canvas_w.saturating_mul(canvas_h) > MAX_PIXELS {
        return Err(Error::invalid(
            "heatmap_png",
            format!("{canvas_w}x{canvas_h} image exceeds the {MAX_PIXELS}-pixel limit"),
        ));
    }
    let mut img = RgbImage::new(canvas_w, canvas_h, WHITE);
    paint_map(&mut img, values, (h, w), (lo, hi), opts);
    if opts.legend {
        draw_legend(&mut img, legend_x, &labels, opts.colormap)?;
    }
    Ok(img)
}

/// A non-empty map of exactly `h * w` values and scale factors of at least 1.
pub(super) fn check_heatmap_input(
    values: &[f32],
    h: usize,
    w: usize,
    opts: &HeatmapOptions,
) -> Result<()> {
    if h == 0 || w == 0 {
        return Err(Error::invalid(
            "heatmap_png",
            format!("map must be non-empty, got {h}x{w}"),
        ));
    }
    if values.len() != h.saturating_mul(w) {
        return Err(Error::shape(
            "heatmap_png",
            format!("{h}x{w} = {} values", h.saturating_mul(w)),
            format!("{} values", values.len()),
        ));
    }
    if opts.scale_x == 0 || opts.scale_y == 0 {
        return Err(Error::invalid(
            "heatmap_png",
            format!(
                "scale factors must be >= 1, got {}x{}",
                opts.scale_x, opts.scale_y
            ),
        ));
    }
    Ok(())
}

/// Value `(r, c)` fills the `scale_x` × `scale_y` block at `(c*scale_x, r*scale_y)`, coloured
/// by its position `t = (v − lo) / (hi − lo)` in the range (NaN stays NaN: the colormap's gray).
pub(super) fn paint_map(
    img: &mut RgbImage,
    values: &[f32],
    (h, w): (usize, usize),
    (lo, hi): (f64, f64),
    opts: &HeatmapOptions,
) {
    let to_t = |v: f32| {
        if v.is_nan() {
            f64::NAN
        } else {
            (v as f64 - lo) / (hi - lo)
        }
    };
    for r in 0..h {
        for c in 0..w {
            let color = opts.colormap.color(to_t(values[r * w + c]));
            for y in r * opts.scale_y..(r + 1) * opts.scale_y {
                for x in c * opts.scale_x..(c + 1) * opts.scale_x {
                    img.set(x, y, color);
                }
            }
        }
    }
}

/// The framed vertical gradient from column `legend_x` over the canvas height, its ticks and
/// their `labels` (bottom tick first).
pub(super) fn draw_legend(
    img: &mut RgbImage,
    legend_x: usize,
    labels: &[String],
    colormap: Colormap,
) -> Result<()> {
    let canvas_h = img.height;
    // Frame: columns legend_x ..= legend_x + STRIP + 1, rows 0 ..= canvas_h - 1.
    let (x0, x1) = (legend_x, legend_x + LEGEND_STRIP + 1);
    let (y0, y1) = (0, canvas_h - 1);
    for y in y0..=y1 {
        img.set(x0, y, INK);
        img.set(x1, y, INK);
    }
    for x in x0..=x1 {
        img.set(x, y0, INK);
        img.set(x, y1, INK);
    }
    // Gradient inside the frame: inner row y1-1 is t = 0, inner row y0+1 is t = 1.
    let inner = (y1 - y0 - 1) as f64; // >= 62 rows
    for y in y0 + 1..y1 {
        let t = (y1 - 1 - y) as f64 / (inner - 1.0);
        let color = colormap.color(t);
        for x in x0 + 1..x1 {
            img.set(x, y, color);
        }
    }
    let glyph_h = 5 * LABEL_SCALE;
    for (&t, label) in LEGEND_TICKS.iter().zip(labels) {
        let y = (y1 - 1) as f64 - t * (inner - 1.0);
        let y = y.round() as usize;
        let len = if t == 0.5 {
            2 * LEGEND_TICK
        } else {
            LEGEND_TICK
        };
        for x in x1 + 1..=x1 + len {
            img.set(x, y, INK);
        }
        // Centred on the tick, kept inside the canvas at the top and bottom ticks.
        let top = (y + 1)
            .saturating_sub(glyph_h / 2)
            .min(canvas_h.saturating_sub(glyph_h));
        draw_text(
            img,
            x1 + 1 + 2 * LEGEND_TICK + LABEL_GAP,
            top,
            label,
            LABEL_SCALE,
            INK,
        )?;
    }
    Ok(())
}

/// A heatmap of `values` (row-major, `h` rows of `w`) as PNG bytes; see [`heatmap_rgb`] for
/// the layout and [`resolve_range`] for the numbers to print beside it. NaN cells are
/// [`NAN_GRAY`]; infinities clamp to the end colors.
pub fn heatmap_png(values: &[f32], h: usize, w: usize, opts: &HeatmapOptions) -> Result<Vec<u8>> {
    heatmap_rgb(values, h, w, opts)?.to_png()
}
