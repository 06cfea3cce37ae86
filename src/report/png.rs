//! A PNG encoder and heatmaps.
//!
//! The encoder writes the smallest valid PNG: signature, `IHDR`, one `IDAT` holding the zlib
//! stream (flate2) of the scanlines, each prefixed with filter type 0 (None), and `IEND`. Every
//! chunk carries a CRC-32 over its type and data (`flate2::Crc`). 8-bit grayscale and
//! 8-bit RGB, no interlacing. Filter 0 is enough here: heatmaps are upscaled blocks, and zlib's
//! 32 KiB window already finds repeated rows and runs.
//!
//! Heatmaps map each value through a [`Colormap`] over a [`ValueRange`], upscale by an integer
//! factor per axis (nearest neighbour, so a 15x117 map becomes visible), and optionally draw a
//! legend strip with tick marks to the right, each labelled with its value in a built-in
//! 3 × 5 pixel font drawn at twice its size ([`draw_text`]; digits, `.`, `-`, `+` and `e`
//! only — all a number needs).

use crate::error::{Error, Result};
use flate2::write::ZlibEncoder;
use flate2::{Compression, Crc};
use std::io::Write;

/// CRC-32 of `bytes` (ISO-HDLC, the one PNG chunks use; flate2's, as zlib's `crc32`).
/// `crc32(b"123456789") == 0xCBF43926`.
pub fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = Crc::new();
    crc.update(bytes);
    crc.sum()
}

/// Pixel layout of the image handed to [`encode_png`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PngColor {
    /// One byte per pixel (PNG color type 0).
    Gray8,
    /// Three bytes per pixel, R G B (PNG color type 2).
    Rgb8,
}

impl PngColor {
    /// Bytes per pixel.
    pub fn channels(self) -> usize {
        match self {
            PngColor::Gray8 => 1,
            PngColor::Rgb8 => 3,
        }
    }

    /// The IHDR color-type byte.
    pub fn color_type(self) -> u8 {
        match self {
            PngColor::Gray8 => 0,
            PngColor::Rgb8 => 2,
        }
    }
}

/// Largest image accepted, in pixels (2^25, about 100 MB of RGB): guards against a scale
/// factor typo allocating gigabytes.
pub const MAX_PIXELS: usize = 1 << 25;

fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Result<()> {
    let len = u32::try_from(data.len())
        .ok()
        .filter(|&l| l <= i32::MAX as u32)
        .ok_or_else(|| Error::invalid("encode_png", "chunk larger than 2^31 - 1 bytes"))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(kind);
    out.extend_from_slice(data);
    let mut crc = Crc::new();
    crc.update(kind);
    crc.update(data);
    out.extend_from_slice(&crc.sum().to_be_bytes());
    Ok(())
}

/// Encodes `pixels` (row-major, `height` rows of `width * channels` bytes) as PNG bytes.
///
/// `Err(Error::Shape)` when `pixels.len() != width * height * channels`;
/// `Err(Error::InvalidArgument)` for a zero dimension or more than [`MAX_PIXELS`] pixels.
pub fn encode_png(width: usize, height: usize, color: PngColor, pixels: &[u8]) -> Result<Vec<u8>> {
    if width == 0 || height == 0 {
        return Err(Error::invalid(
            "encode_png",
            format!("image must be non-empty, got {width}x{height}"),
        ));
    }
    if width.saturating_mul(height) > MAX_PIXELS {
        return Err(Error::invalid(
            "encode_png",
            format!("{width}x{height} exceeds the {MAX_PIXELS}-pixel limit"),
        ));
    }
    let row_bytes = width * color.channels();
    if pixels.len() != row_bytes * height {
        return Err(Error::shape(
            "encode_png",
            format!(
                "{width}x{height}x{} = {} bytes",
                color.channels(),
                row_bytes * height
            ),
            format!("{} bytes", pixels.len()),
        ));
    }

    let mut out = Vec::new();
    out.extend_from_slice(b"\x89PNG\r\n\x1a\n");

    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend_from_slice(&(width as u32).to_be_bytes());
    ihdr.extend_from_slice(&(height as u32).to_be_bytes());
    // bit depth 8, color type, compression 0 (deflate), filter method 0, no interlace.
    ihdr.extend_from_slice(&[8, color.color_type(), 0, 0, 0]);
    write_chunk(&mut out, b"IHDR", &ihdr)?;

    let io_err = |e: std::io::Error| Error::invalid("encode_png", format!("zlib: {e}"));
    let mut z = ZlibEncoder::new(Vec::new(), Compression::default());
    for row in pixels.chunks_exact(row_bytes) {
        z.write_all(&[0]).map_err(io_err)?; // filter type 0: bytes stored as they are
        z.write_all(row).map_err(io_err)?;
    }
    let idat = z.finish().map_err(io_err)?;
    write_chunk(&mut out, b"IDAT", &idat)?;
    write_chunk(&mut out, b"IEND", &[])?;
    Ok(out)
}

/// A color scale from t = 0 to t = 1, linearly interpolated between 17 anchors.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Colormap {
    /// Perceptually uniform dark purple -> teal -> yellow, for magnitudes (saliency, accuracy).
    #[default]
    Viridis,
    /// Diverging dark blue -> near-white -> dark red, for signed values such as weights; pair it
    /// with [`ValueRange::SymmetricAroundZero`] so zero lands on the white center.
    BlueWhiteRed,
}

/// viridis (Smith & van der Walt, CC0) sampled at t = i/16, i = 0..=16, from matplotlib 3.x's
/// `colormaps['viridis'](t)` rounded to 8 bits.
const VIRIDIS: [[u8; 3]; 17] = [
    [68, 1, 84],
    [72, 24, 106],
    [71, 45, 123],
    [66, 64, 134],
    [59, 82, 139],
    [51, 99, 141],
    [44, 114, 142],
    [38, 130, 142],
    [33, 145, 140],
    [31, 160, 136],
    [40, 174, 128],
    [63, 188, 115],
    [94, 201, 98],
    [132, 212, 75],
    [173, 220, 48],
    [216, 226, 25],
    [253, 231, 37],
];

/// ColorBrewer RdBu reversed (blue for negative) sampled at t = i/16 from matplotlib's
/// `colormaps['RdBu_r'](t)`, with the center set to ColorBrewer's neutral #f7f7f7 exactly so the
/// scale is symmetric about zero.
const BLUE_WHITE_RED: [[u8; 3]; 17] = [
    [5, 48, 97],
    [23, 82, 144],
    [42, 113, 178],
    [63, 142, 192],
    [107, 172, 209],
    [155, 201, 224],
    [194, 221, 236],
    [224, 236, 243],
    [247, 247, 247],
    [251, 229, 216],
    [251, 204, 180],
    [245, 170, 137],
    [228, 128, 102],
    [208, 85, 72],
    [186, 40, 50],
    [147, 14, 38],
    [103, 0, 31],
];

impl Colormap {
    fn anchors(self) -> &'static [[u8; 3]; 17] {
        match self {
            Colormap::Viridis => &VIRIDIS,
            Colormap::BlueWhiteRed => &BLUE_WHITE_RED,
        }
    }

    /// The color at `t`, clamped to [0, 1]; NaN gives [`NAN_GRAY`].
    pub fn color(self, t: f64) -> [u8; 3] {
        if t.is_nan() {
            return NAN_GRAY;
        }
        let anchors = self.anchors();
        let pos = t.clamp(0.0, 1.0) * (anchors.len() - 1) as f64;
        let i = (pos.floor() as usize).min(anchors.len() - 2);
        let f = pos - i as f64;
        let (a, b) = (anchors[i], anchors[i + 1]);
        let mix = |k: usize| (a[k] as f64 + f * (b[k] as f64 - a[k] as f64)).round() as u8;
        [mix(0), mix(1), mix(2)]
    }
}

/// Color of a NaN cell in a heatmap: mid gray, outside both colormaps' hues.
pub const NAN_GRAY: [u8; 3] = [128, 128, 128];
/// Legend frame and tick color.
const INK: [u8; 3] = [40, 40, 40];
const WHITE: [u8; 3] = [255, 255, 255];

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

    fn set(&mut self, x: usize, y: usize, c: [u8; 3]) {
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
const LEGEND_GAP: usize = 8; // white space between map and strip
const LEGEND_STRIP: usize = 14; // gradient width, inside a 1-pixel frame
const LEGEND_TICK: usize = 4; // tick length; the middle tick is twice as long
const LEGEND_MIN_HEIGHT: usize = 64; // a shorter map gets white space below it
/// Ticks at these fractions of the range (bottom = low, top = high).
const LEGEND_TICKS: [f64; 5] = [0.0, 0.25, 0.5, 0.75, 1.0];
const LABEL_GAP: usize = 3; // between the longest tick and its label
/// Tick labels are drawn at this multiple of the 3 × 5 font.
pub const LABEL_SCALE: usize = 2;

/// A 3 × 5 bitmap font: each glyph is five rows, the top first, of three bits (4 = left
/// pixel, 1 = right pixel).
fn glyph(c: char) -> Option<[u8; 5]> {
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
fn check_heatmap_input(values: &[f32], h: usize, w: usize, opts: &HeatmapOptions) -> Result<()> {
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
fn paint_map(
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
fn draw_legend(
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn colormaps_hit_their_anchors_at_the_ends_and_center() {
        assert_eq!(Colormap::Viridis.color(0.0), [68, 1, 84]);
        assert_eq!(Colormap::Viridis.color(1.0), [253, 231, 37]);
        assert_eq!(Colormap::Viridis.color(-3.0), [68, 1, 84]);
        assert_eq!(Colormap::BlueWhiteRed.color(0.5), [247, 247, 247]);
        assert_eq!(Colormap::BlueWhiteRed.color(f64::NAN), NAN_GRAY);
        // Halfway between anchors 0 and 1 of viridis: rounded midpoints.
        assert_eq!(Colormap::Viridis.color(1.0 / 32.0), [70, 13, 95]);
    }

    #[test]
    fn resolve_range_is_strictly_increasing_for_degenerate_data() {
        assert_eq!(resolve_range(&[], ValueRange::Auto).unwrap(), (0.0, 1.0));
        assert_eq!(
            resolve_range(&[f32::NAN], ValueRange::SymmetricAroundZero).unwrap(),
            (-1.0, 1.0)
        );
        assert_eq!(
            resolve_range(&[2.0, 2.0], ValueRange::Auto).unwrap(),
            (1.5, 2.5)
        );
        assert_eq!(
            resolve_range(
                &[-0.5, 0.25, f32::INFINITY],
                ValueRange::SymmetricAroundZero
            )
            .unwrap(),
            (-0.5, 0.5)
        );
        assert!(resolve_range(&[], ValueRange::Fixed { min: 1.0, max: 1.0 }).is_err());
    }
}
