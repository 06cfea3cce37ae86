//! Colormaps: 17 anchors from t = 0 to t = 1, linearly interpolated.

use super::*;

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
pub(super) const VIRIDIS: [[u8; 3]; 17] = [
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
pub(super) const BLUE_WHITE_RED: [[u8; 3]; 17] = [
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
