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

mod colormap;
mod encode;
mod heatmap;
mod text;

pub use colormap::*;
pub use encode::*;
pub use heatmap::*;
pub use text::*;

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
