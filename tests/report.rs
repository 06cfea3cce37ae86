//! Tests of the report layer (tables, CSV/JSON, PNG, SVG, HTML/markdown). The statistics are
//! tested in tests/stats.rs.
//!
//! The PNG checks decode with an independent decoder written below (bitwise CRC, flate2
//! inflate, all five PNG filters) and, when Python with Pillow is installed, with
//! tests/png_decodes.py, which also parses every SVG with xml.etree.

mod common;

use common::temp_dir;
use grad_instructor::report::csv::{parse_csv, read_csv, to_csv, write_csv};
use grad_instructor::report::json::{read_json, write_json_pretty};
use grad_instructor::report::png::{
    crc32, encode_png, heatmap_png, heatmap_rgb, resolve_range, Colormap, HeatmapOptions, PngColor,
    ValueRange, NAN_GRAY,
};
use grad_instructor::report::svg::{line_plot, scatter_plot, LinePlot, ScatterPlot, Series};
use grad_instructor::report::{base64, escape_html, fmt_mean_std, Report, Table};
use grad_instructor::stats::welch_t_test;
use grad_instructor::Error;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::io::Read;
use std::path::{Path, PathBuf};

// ---------------------------------------------------------------------------------------------
// CRC-32 and base64 known vectors

#[test]
fn crc32_matches_the_standard_check_value() {
    // The CRC-32/ISO-HDLC check value (CRC catalogue; also zlib's crc32).
    assert_eq!(crc32(b"123456789"), 0xCBF4_3926);
    assert_eq!(crc32(b""), 0);
    // zlib.crc32(b"The quick brown fox jumps over the lazy dog") == 0x414FA339.
    assert_eq!(
        crc32(b"The quick brown fox jumps over the lazy dog"),
        0x414F_A339
    );
}

#[test]
fn base64_matches_rfc4648_test_vectors() {
    // RFC 4648 §10.
    let vectors = [
        ("", ""),
        ("f", "Zg=="),
        ("fo", "Zm8="),
        ("foo", "Zm9v"),
        ("foob", "Zm9vYg=="),
        ("fooba", "Zm9vYmE="),
        ("foobar", "Zm9vYmFy"),
    ];
    for (input, expected) in vectors {
        assert_eq!(
            base64::encode(input.as_bytes()),
            expected,
            "input {input:?}"
        );
    }
    // All 256 byte values survive, via a straightforward decoder written here.
    let all: Vec<u8> = (0..=255u8).collect();
    assert_eq!(base64_decode(&base64::encode(&all)), all);
}

fn base64_decode(s: &str) -> Vec<u8> {
    let val = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("bad base64 char {c}"),
    };
    let mut out = Vec::new();
    for quad in s.as_bytes().chunks(4) {
        let n = quad.iter().filter(|&&c| c != b'=').count();
        let mut acc = 0u32;
        for (i, &c) in quad.iter().enumerate() {
            let v = if c == b'=' { 0 } else { val(c) as u32 };
            acc |= v << (18 - 6 * i);
        }
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(&bytes[..n - 1]);
    }
    out
}

// ---------------------------------------------------------------------------------------------
// An independent PNG decoder (enough for 8-bit gray/RGB, non-interlaced)

/// Bitwise CRC-32 (no table), so the check does not share code with the encoder.
fn crc32_bitwise(bytes: &[u8]) -> u32 {
    let mut c = 0xFFFF_FFFFu32;
    for &b in bytes {
        c ^= b as u32;
        for _ in 0..8 {
            c = if c & 1 != 0 {
                (c >> 1) ^ 0xEDB8_8320
            } else {
                c >> 1
            };
        }
    }
    !c
}

struct Decoded {
    width: usize,
    height: usize,
    color_type: u8,
    pixels: Vec<u8>,
    chunk_types: Vec<String>,
}

fn decode_png(png: &[u8]) -> Decoded {
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "signature");
    let mut pos = 8;
    let mut ihdr = None;
    let mut idat = Vec::new();
    let mut chunk_types = Vec::new();
    while pos < png.len() {
        let len = u32::from_be_bytes(png[pos..pos + 4].try_into().unwrap()) as usize;
        let kind = &png[pos + 4..pos + 8];
        let data = &png[pos + 8..pos + 8 + len];
        let crc = u32::from_be_bytes(png[pos + 8 + len..pos + 12 + len].try_into().unwrap());
        assert_eq!(
            crc,
            crc32_bitwise(&png[pos + 4..pos + 8 + len]),
            "CRC of chunk {}",
            String::from_utf8_lossy(kind)
        );
        chunk_types.push(String::from_utf8_lossy(kind).into_owned());
        match kind {
            b"IHDR" => ihdr = Some(data.to_vec()),
            b"IDAT" => idat.extend_from_slice(data),
            b"IEND" => assert_eq!(len, 0),
            _ => {}
        }
        pos += 12 + len;
    }
    assert_eq!(pos, png.len(), "trailing bytes after the last chunk");
    let ihdr = ihdr.expect("IHDR chunk");
    assert_eq!(ihdr.len(), 13);
    let width = u32::from_be_bytes(ihdr[0..4].try_into().unwrap()) as usize;
    let height = u32::from_be_bytes(ihdr[4..8].try_into().unwrap()) as usize;
    assert_eq!(ihdr[8], 8, "bit depth");
    let color_type = ihdr[9];
    assert_eq!(&ihdr[10..13], &[0, 0, 0], "compression, filter, interlace");
    let bpp = match color_type {
        0 => 1,
        2 => 3,
        t => panic!("unexpected color type {t}"),
    };
    let mut raw = Vec::new();
    flate2::read::ZlibDecoder::new(&idat[..])
        .read_to_end(&mut raw)
        .expect("IDAT inflates");
    let stride = width * bpp;
    assert_eq!(raw.len(), height * (stride + 1), "inflated size");
    // Undo the per-row filters (PNG spec §9): all five types, though the encoder uses 0.
    let mut pixels = vec![0u8; height * stride];
    for y in 0..height {
        let filter = raw[y * (stride + 1)];
        let src = &raw[y * (stride + 1) + 1..(y + 1) * (stride + 1)];
        for x in 0..stride {
            let a = if x >= bpp {
                pixels[y * stride + x - bpp]
            } else {
                0
            } as i16;
            let b = if y > 0 {
                pixels[(y - 1) * stride + x]
            } else {
                0
            } as i16;
            let c = if x >= bpp && y > 0 {
                pixels[(y - 1) * stride + x - bpp]
            } else {
                0
            } as i16;
            let pred = match filter {
                0 => 0,
                1 => a,
                2 => b,
                3 => (a + b) / 2,
                4 => {
                    let p = a + b - c;
                    let (pa, pb, pc) = ((p - a).abs(), (p - b).abs(), (p - c).abs());
                    if pa <= pb && pa <= pc {
                        a
                    } else if pb <= pc {
                        b
                    } else {
                        c
                    }
                }
                f => panic!("bad filter type {f}"),
            };
            pixels[y * stride + x] = (src[x] as i16 + pred) as u8;
        }
    }
    Decoded {
        width,
        height,
        color_type,
        pixels,
        chunk_types,
    }
}

// ---------------------------------------------------------------------------------------------
// PNG encoder and heatmaps

#[test]
fn png_encoder_roundtrips_random_rgb_and_gray_images() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0001);
    let shapes = [
        (1, 1),
        (1, 7),
        (7, 1),
        (2, 3),
        (13, 17),
        (117, 15),
        (31, 64),
        (256, 3),
    ];
    for &(w, h) in &shapes {
        for color in [PngColor::Gray8, PngColor::Rgb8] {
            let pixels: Vec<u8> = (0..w * h * color.channels()).map(|_| rng.gen()).collect();
            let png = encode_png(w, h, color, &pixels).unwrap();
            let d = decode_png(&png);
            assert_eq!((d.width, d.height), (w, h), "{w}x{h} {color:?}");
            assert_eq!(d.color_type, color.color_type());
            assert_eq!(d.chunk_types, ["IHDR", "IDAT", "IEND"]);
            assert!(d.pixels == pixels, "pixels differ for {w}x{h} {color:?}");
        }
    }
}

#[test]
fn png_encoder_rejects_bad_dimensions() {
    assert!(matches!(
        encode_png(0, 5, PngColor::Gray8, &[]),
        Err(Error::InvalidArgument { .. })
    ));
    assert!(matches!(
        encode_png(2, 2, PngColor::Rgb8, &[0; 11]),
        Err(Error::Shape { .. })
    ));
    assert!(matches!(
        encode_png(1 << 13, 1 << 13, PngColor::Gray8, &[]),
        Err(Error::InvalidArgument { .. })
    ));
}

#[test]
fn heatmap_upscales_each_value_to_a_block_of_its_color() {
    // 2 rows x 3 columns, with a NaN; Auto range is [-1, 4].
    let values = [0.0f32, 4.0, -1.0, 1.5, f32::NAN, 2.0];
    let opts = HeatmapOptions {
        scale_x: 4,
        scale_y: 5,
        legend: false,
        ..Default::default()
    };
    let d = decode_png(&heatmap_png(&values, 2, 3, &opts).unwrap());
    assert_eq!((d.width, d.height, d.color_type), (12, 10, 2));
    let (lo, hi) = resolve_range(&values, ValueRange::Auto).unwrap();
    assert_eq!((lo, hi), (-1.0, 4.0));
    for r in 0..2 {
        for c in 0..3 {
            let v = values[r * 3 + c];
            let expected = if v.is_nan() {
                NAN_GRAY
            } else {
                Colormap::Viridis.color(((v - lo) / (hi - lo)) as f64)
            };
            for y in r * 5..(r + 1) * 5 {
                for x in c * 4..(c + 1) * 4 {
                    let i = 3 * (y * 12 + x);
                    assert_eq!(
                        &d.pixels[i..i + 3],
                        &expected,
                        "value ({r},{c}) pixel ({x},{y})"
                    );
                }
            }
        }
    }
    // The extremes land exactly on the colormap's end anchors.
    assert_eq!(&d.pixels[3 * 4..3 * 4 + 3], &Colormap::Viridis.color(1.0));
    assert_eq!(&d.pixels[3 * 8..3 * 8 + 3], &Colormap::Viridis.color(0.0));
}

#[test]
fn heatmap_symmetric_range_puts_zero_on_the_white_center_and_draws_a_legend() {
    // A 15x117 weight-like map (the first-layer image's shape), values in [-0.3, 0.2].
    let (h, w) = (15, 117);
    let mut values: Vec<f32> = (0..h * w)
        .map(|i| ((i % 50) as f32 / 100.0) - 0.3)
        .collect();
    values[0] = 0.0;
    let opts = HeatmapOptions {
        colormap: Colormap::BlueWhiteRed,
        range: ValueRange::SymmetricAroundZero,
        scale_x: 3,
        scale_y: 3,
        legend: true,
    };
    let img = heatmap_rgb(&values, h, w, &opts).unwrap();
    assert_eq!(resolve_range(&values, opts.range).unwrap(), (-0.3, 0.3));
    assert_eq!(img.get(0, 0), [247, 247, 247], "zero is the neutral center");
    // Legend: map is 351x45, canvas at least 64 tall; the strip's frame starts 8 px right of
    // the map, the gradient runs from t = 1 (just under the top frame row) to t = 0.
    assert_eq!(img.height, 64);
    let frame_x = 351 + 8;
    assert_eq!(img.get(frame_x, 10), [40, 40, 40], "frame");
    assert_eq!(img.get(frame_x + 5, 1), Colormap::BlueWhiteRed.color(1.0));
    assert_eq!(
        img.get(frame_x + 5, img.height - 2),
        Colormap::BlueWhiteRed.color(0.0)
    );
    // Below the 45-pixel map the canvas is white.
    assert_eq!(img.get(0, 50), [255, 255, 255]);
    // And it encodes to a PNG that decodes to the same pixels.
    let d = decode_png(&img.to_png().unwrap());
    assert_eq!((d.width, d.height), (img.width, img.height));
    assert!(d.pixels == img.pixels);
}

#[test]
fn tick_labels_are_short_numbers_and_zero_is_zero() {
    use grad_instructor::report::png::{legend_labels, tick_label};
    assert_eq!(legend_labels(0.0, 1.0), ["0", "0.25", "0.5", "0.75", "1"]);
    // The middle of a symmetric range is 0 even when lo + (hi − lo)/2 rounds to 5.6e-17.
    assert_eq!(
        legend_labels(-0.3, 0.3),
        ["-0.3", "-0.15", "0", "0.15", "0.3"]
    );
    assert_eq!(tick_label(0.036, 0.036), "0.036");
    assert_eq!(tick_label(0.123456, 1.0), "0.123");
    assert_eq!(tick_label(2.5e-4, 1e-3), "2.5e-4");
    assert_eq!(tick_label(-12345.0, 2e4), "-1.23e4");
    assert_eq!(tick_label(150.0, 200.0), "150");
    assert_eq!(tick_label(5.55e-17, 0.3), "0");
}

#[test]
fn draw_text_renders_the_built_in_font_by_hand() {
    use grad_instructor::report::png::{draw_text, text_width, RgbImage};
    let mut img = RgbImage {
        width: 11,
        height: 5,
        pixels: vec![255; 11 * 5 * 3],
    };
    draw_text(&mut img, 0, 0, "0.5", 1, [0, 0, 0]).unwrap();
    assert_eq!(text_width("0.5", 1), 11);
    // 3 × 5 glyphs with one blank column between them.
    let want = [
        "###.....###",
        "#.#.....#..",
        "#.#.....###",
        "#.#.......#",
        "###..#..###",
    ];
    for (y, row) in want.iter().enumerate() {
        let got: String = (0..11)
            .map(|x| if img.get(x, y) == [0, 0, 0] { '#' } else { '.' })
            .collect();
        assert_eq!(&got, row, "row {y}");
    }
    assert!(draw_text(&mut img, 0, 0, "x", 1, [0, 0, 0]).is_err());
    // Off-image pixels are skipped, not a panic.
    draw_text(&mut img, 9, 3, "88", 2, [0, 0, 0]).unwrap();
}

#[test]
fn heatmap_legend_labels_each_tick_with_its_value() {
    use grad_instructor::report::png::{draw_text, text_width, RgbImage, LABEL_SCALE};
    let opts = HeatmapOptions {
        range: ValueRange::Fixed { min: 0.0, max: 1.0 },
        scale_x: 2,
        scale_y: 2,
        ..Default::default()
    };
    let img = heatmap_rgb(&[0.0, 0.5, 1.0, 0.25], 2, 2, &opts).unwrap();
    // Map 4 px, gap 8, framed strip 16, ticks up to 8, label gap 3, widest label "0.25", 1.
    let label_x = 4 + 8 + 16 + 8 + 3;
    assert_eq!(img.width, label_x + text_width("0.25", LABEL_SCALE) + 1);
    // The top label "1" sits at the top of the canvas (its tick is at row 1), the bottom "0"
    // at the bottom: redraw each on a white canvas and compare the label box pixel by pixel.
    let ink = [40, 40, 40];
    for (text, top) in [("1", 0), ("0", img.height - 10)] {
        let mut want = RgbImage {
            width: img.width,
            height: img.height,
            pixels: vec![255; img.width * img.height * 3],
        };
        draw_text(&mut want, label_x, top, text, LABEL_SCALE, ink).unwrap();
        for y in top..top + 10 {
            for x in label_x..img.width {
                assert_eq!(img.get(x, y), want.get(x, y), "{text:?} at ({x},{y})");
            }
        }
    }
    // The middle label "0.5" is centred on the middle tick.
    let mid_tick = (img.height - 2) as f64 - 0.5 * (img.height - 3) as f64;
    let mid_top = mid_tick.round() as usize + 1 - 5;
    assert_eq!(img.get(label_x, mid_top), ink, "top-left of the 0 of 0.5");
}

#[test]
fn heatmap_rejects_bad_arguments_instead_of_panicking() {
    let opts = HeatmapOptions::default();
    assert!(matches!(
        heatmap_png(&[1.0; 5], 2, 3, &opts),
        Err(Error::Shape { .. })
    ));
    assert!(heatmap_png(&[], 0, 3, &opts).is_err());
    let zero_scale = HeatmapOptions { scale_x: 0, ..opts };
    assert!(heatmap_png(&[1.0], 1, 1, &zero_scale).is_err());
    let bad_range = HeatmapOptions {
        range: ValueRange::Fixed {
            min: 1.0,
            max: f32::NAN,
        },
        ..opts
    };
    assert!(heatmap_png(&[1.0], 1, 1, &bad_range).is_err());
    // All-NaN and constant maps are fine (gray, middle color).
    assert!(heatmap_png(&[f32::NAN; 4], 2, 2, &opts).is_ok());
    let c = heatmap_rgb(&[7.0; 4], 2, 2, &opts).unwrap();
    assert_eq!(c.get(0, 0), Colormap::Viridis.color(0.5));
}

// ---------------------------------------------------------------------------------------------
// SVG

/// Checks that every start tag is closed in order, comments and the prolog skipped, and that
/// no attribute value is NaN or infinite. Not a full XML parser (png_decodes.py runs one when
/// Python is present), but it catches unbalanced output.
fn assert_balanced_tags(svg: &str) {
    let mut stack: Vec<String> = Vec::new();
    let mut rest = svg;
    while let Some(start) = rest.find('<') {
        let end = rest[start..].find('>').expect("unterminated tag") + start;
        let tag = &rest[start + 1..end];
        rest = &rest[end + 1..];
        if tag.starts_with('?') || tag.starts_with('!') {
            continue;
        }
        assert_eq!(
            tag.matches('"').count() % 2,
            0,
            "unbalanced quotes in <{tag}>"
        );
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().unwrap_or_else(|| panic!("stray </{name}>"));
            assert_eq!(open, name.trim(), "mismatched close tag");
        } else if !tag.ends_with('/') {
            let name = tag.split_whitespace().next().unwrap_or("").to_string();
            stack.push(name);
        }
    }
    assert!(stack.is_empty(), "unclosed tags: {stack:?}");
    for bad in ["NaN", "inf\"", "=\"-inf"] {
        assert!(!svg.contains(bad), "SVG contains {bad}");
    }
}

fn sample_line_plot() -> LinePlot {
    LinePlot {
        title: "Training loss".into(),
        x_label: "step".into(),
        y_label: "cross-entropy".into(),
        series: vec![
            Series {
                name: "bp".into(),
                points: (0..50)
                    .map(|i| (i as f64, 2.3 * (-0.05 * i as f64).exp()))
                    .collect(),
            },
            Series {
                name: "bp + ENN <ours> & \"friends\"".into(),
                points: (0..50)
                    .map(|i| (i as f64, 2.3 * (-0.07 * i as f64).exp() + 0.01))
                    .collect(),
            },
        ],
        log_y: true,
    }
}

fn edge_case_line_plots() -> Vec<(&'static str, LinePlot)> {
    let named = |name: &str, points: Vec<(f64, f64)>| Series {
        name: name.into(),
        points,
    };
    vec![
        ("no series", LinePlot::default()),
        (
            "empty series",
            LinePlot {
                series: vec![named("empty", vec![])],
                ..Default::default()
            },
        ),
        (
            "single point",
            LinePlot {
                series: vec![named("one", vec![(3.0, 4.0)])],
                ..Default::default()
            },
        ),
        (
            "constant",
            LinePlot {
                series: vec![named("flat", vec![(0.0, 5.0), (1.0, 5.0), (2.0, 5.0)])],
                ..Default::default()
            },
        ),
        (
            "all zero",
            LinePlot {
                series: vec![named("zero", vec![(0.0, 0.0), (0.0, 0.0)])],
                ..Default::default()
            },
        ),
        (
            "non-finite",
            LinePlot {
                series: vec![named(
                    "gappy",
                    vec![
                        (0.0, 1.0),
                        (1.0, f64::NAN),
                        (2.0, 3.0),
                        (f64::INFINITY, 1.0),
                        (4.0, 2.0),
                        (5.0, 2.5),
                    ],
                )],
                ..Default::default()
            },
        ),
        (
            "log with non-positive",
            LinePlot {
                series: vec![named("logged", vec![(0.0, 0.0), (1.0, -1.0), (2.0, 0.5)])],
                log_y: true,
                ..Default::default()
            },
        ),
        (
            "log all non-positive",
            LinePlot {
                series: vec![named("nothing", vec![(0.0, 0.0)])],
                log_y: true,
                ..Default::default()
            },
        ),
        (
            "huge range",
            LinePlot {
                series: vec![named("wide", vec![(-1e300, -1e300), (1e300, 1e300)])],
                ..Default::default()
            },
        ),
        (
            "extreme magnitudes",
            LinePlot {
                series: vec![named(
                    "max",
                    vec![(-f64::MAX, f64::MAX), (f64::MAX, -f64::MAX)],
                )],
                ..Default::default()
            },
        ),
        (
            "many series",
            LinePlot {
                series: (0..40)
                    .map(|i| {
                        named(
                            &format!("series number {i} with a long name"),
                            vec![(0.0, i as f64)],
                        )
                    })
                    .collect(),
                ..Default::default()
            },
        ),
    ]
}

#[test]
fn line_plot_is_well_formed_and_names_its_series() {
    let svg = line_plot(&sample_line_plot());
    assert_balanced_tags(&svg);
    assert!(svg.starts_with("<svg xmlns=\"http://www.w3.org/2000/svg\""));
    assert!(svg.contains(">bp<"));
    assert!(svg.contains("bp + ENN &lt;ours&gt; &amp; &quot;friends&quot;"));
    assert!(svg.contains("<polyline"));
    // Log axis over [0.01, 2.3]: decade ticks 0.01, 0.1, 1, 10.
    for label in [">0.01<", ">0.1<", ">1<", ">10<"] {
        assert!(svg.contains(label), "missing tick {label}");
    }
    // 30 decades: every 4th decade is labelled, aligned so that 1 is among them.
    let wide = line_plot(&LinePlot {
        series: vec![Series {
            name: "decay".into(),
            points: (0..30).map(|i| (i as f64, 10f64.powi(-i))).collect(),
        }],
        log_y: true,
        ..Default::default()
    });
    for label in [">1<", ">0.0001<", ">1e-8<", ">1e-28<"] {
        assert!(wide.contains(label), "missing tick {label}");
    }
    assert!(!wide.contains(">0.1<"));
}

#[test]
fn line_plot_survives_empty_single_constant_and_non_finite_input() {
    for (what, plot) in edge_case_line_plots() {
        let svg = line_plot(&plot);
        assert_balanced_tags(&svg);
        if what == "no series" || what == "empty series" || what == "log all non-positive" {
            assert!(svg.contains("no data"), "{what}");
        }
        if what == "single point" {
            assert!(svg.contains("<circle"), "a lone point must be visible");
        }
        if what == "non-finite" {
            // NaN breaks the line: (0,1) alone, then (2,3), then (4,2)-(5,2.5).
            assert_eq!(svg.matches("<polyline").count(), 1, "{what}");
        }
        if what == "many series" {
            assert!(svg.contains("more</text>"), "legend overflow is summarized");
        }
    }
}

/// A value drawn from a mix that hits the edges: ordinary, tiny, huge, zero, negative,
/// non-finite, and repeated values.
fn edgy_value(rng: &mut StdRng) -> f64 {
    match rng.gen_range(0..10) {
        0 => f64::NAN,
        1 => f64::INFINITY,
        2 => 0.0,
        3 => rng.gen_range(-1e-12..1e-12),
        4 => rng.gen_range(-1e250..1e250),
        5 => 1.0,
        _ => rng.gen_range(-10.0..10.0),
    }
}

#[test]
fn plots_of_random_edge_case_data_are_always_well_formed() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0004);
    for case in 0..300 {
        let n_series = rng.gen_range(0..4);
        let series = (0..n_series)
            .map(|k| Series {
                name: format!("s{k}"),
                points: (0..rng.gen_range(0..6))
                    .map(|_| (edgy_value(&mut rng), edgy_value(&mut rng)))
                    .collect(),
            })
            .collect();
        let plot = LinePlot {
            series,
            log_y: rng.gen_bool(0.5),
            ..Default::default()
        };
        let svg = line_plot(&plot);
        assert!(
            std::panic::catch_unwind(|| assert_balanced_tags(&svg)).is_ok(),
            "case {case}: {plot:?}"
        );
        let scatter = ScatterPlot {
            points: (0..rng.gen_range(0..6))
                .map(|_| (edgy_value(&mut rng), edgy_value(&mut rng), "p".to_string()))
                .collect(),
            fit_line: true,
            ..Default::default()
        };
        let svg = scatter_plot(&scatter);
        assert!(
            std::panic::catch_unwind(|| assert_balanced_tags(&svg)).is_ok(),
            "case {case}: {scatter:?}"
        );
    }
}

fn sample_scatter() -> ScatterPlot {
    ScatterPlot {
        title: "ENN score vs test accuracy".into(),
        x_label: "ENN score".into(),
        y_label: "test accuracy (%)".into(),
        points: vec![
            (0.12, 91.2, "seed 0".into()),
            (0.35, 92.0, "seed 1".into()),
            (0.41, 92.6, "seed 2".into()),
            (0.66, 93.1, "seed 3".into()),
            (0.80, 93.0, "seed 4 <best>".into()),
            (f64::NAN, 50.0, "skipped".into()),
        ],
        fit_line: true,
    }
}

#[test]
fn scatter_plot_draws_points_labels_and_a_fit_line() {
    let svg = scatter_plot(&sample_scatter());
    assert_balanced_tags(&svg);
    assert_eq!(
        svg.matches("<circle").count(),
        5,
        "the NaN point is skipped"
    );
    assert!(svg.contains("seed 4 &lt;best&gt;"));
    assert!(!svg.contains("skipped"));
    assert!(svg.contains("least squares: y = "));
    assert!(svg.contains("(n = 5)"));
    // Edge cases: nothing, one point, identical x (no fit possible), non-finite only.
    for points in [
        vec![],
        vec![(1.0, 1.0, String::new())],
        vec![(2.0, 1.0, "a".into()), (2.0, 3.0, "b".into())],
        vec![(f64::INFINITY, 1.0, "x".into())],
        vec![
            (-f64::MAX, f64::MAX, "a".into()),
            (f64::MAX, 0.0, "b".into()),
        ],
    ] {
        let svg = scatter_plot(&ScatterPlot {
            points,
            fit_line: true,
            ..Default::default()
        });
        assert_balanced_tags(&svg);
        assert!(!svg.contains("least squares"));
    }
}

// ---------------------------------------------------------------------------------------------
// Python cross-check (Pillow for PNGs, xml.etree for SVGs)

fn python3_available() -> bool {
    std::process::Command::new("python3")
        .arg("-c")
        .arg("import sys")
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

#[test]
fn python_decodes_our_pngs_and_parses_our_svgs() {
    if !python3_available() {
        println!("note: python3 not found; skipping the Pillow/xml.etree cross-check");
        return;
    }
    let dir = temp_dir("python");
    let mut rng = StdRng::seed_from_u64(0x5eed_0002);
    let mut pngs = Vec::new();
    for (i, &(w, h, color)) in [
        (1, 1, PngColor::Rgb8),
        (117, 15, PngColor::Rgb8),
        (33, 21, PngColor::Gray8),
    ]
    .iter()
    .enumerate()
    {
        let pixels: Vec<u8> = (0..w * h * color.channels()).map(|_| rng.gen()).collect();
        let path = dir.join(format!("img{i}.png"));
        let raw = dir.join(format!("img{i}.raw"));
        std::fs::write(&path, encode_png(w, h, color, &pixels).unwrap()).unwrap();
        std::fs::write(&raw, &pixels).unwrap();
        let mode = if color == PngColor::Rgb8 { "RGB" } else { "L" };
        pngs.push(serde_json::json!({
            "path": path, "width": w, "height": h, "mode": mode, "raw": raw
        }));
    }
    let heat = heatmap_rgb(
        &(0..60).map(|i| (i as f32).sin()).collect::<Vec<_>>(),
        6,
        10,
        &HeatmapOptions {
            scale_x: 5,
            scale_y: 5,
            ..Default::default()
        },
    )
    .unwrap();
    std::fs::write(dir.join("heat.png"), heat.to_png().unwrap()).unwrap();
    std::fs::write(dir.join("heat.raw"), &heat.pixels).unwrap();
    pngs.push(serde_json::json!({
        "path": dir.join("heat.png"), "width": heat.width, "height": heat.height,
        "mode": "RGB", "raw": dir.join("heat.raw")
    }));

    let mut svgs = Vec::new();
    let main = line_plot(&sample_line_plot());
    std::fs::write(dir.join("line.svg"), &main).unwrap();
    svgs.push(serde_json::json!({
        "path": dir.join("line.svg"),
        "contains": ["bp", "bp + ENN <ours> & \"friends\"", "Training loss"]
    }));
    for (i, (_, plot)) in edge_case_line_plots().iter().enumerate() {
        let path = dir.join(format!("edge{i}.svg"));
        std::fs::write(&path, line_plot(plot)).unwrap();
        svgs.push(serde_json::json!({ "path": path, "contains": [] }));
    }
    std::fs::write(dir.join("scatter.svg"), scatter_plot(&sample_scatter())).unwrap();
    svgs.push(serde_json::json!({
        "path": dir.join("scatter.svg"), "contains": ["seed 4 <best>", "least squares"]
    }));

    let manifest = dir.join("manifest.json");
    write_json_pretty(&manifest, &serde_json::json!({ "png": pngs, "svg": svgs })).unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/png_decodes.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .arg(&manifest)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    println!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "png_decodes.py failed:\n{stdout}");
    assert!(stdout.contains("all checks passed"));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// Tables, escaping, CSV, JSON

fn sample_table() -> Table {
    let mut t = Table::new(["arm", "test accuracy (%)", "p vs bp"]);
    t.push_row(["bp", &fmt_mean_std(93.0214, 0.1487, 2), "—"])
        .unwrap();
    t.push_row(["bp + ENN", &fmt_mean_std(93.4, 0.2, 2), "0.0076"])
        .unwrap();
    t
}

#[test]
fn table_renders_aligned_text_markdown_and_html() {
    let t = sample_table();
    assert_eq!(
        t.to_text(),
        "arm       test accuracy (%)  p vs bp\n\
         --------  -----------------  -------\n\
         bp             93.02 ± 0.15        —\n\
         bp + ENN       93.40 ± 0.20   0.0076\n"
    );
    assert_eq!(
        t.to_markdown(),
        "| arm | test accuracy (%) | p vs bp |\n\
         | --- | ---: | ---: |\n\
         | bp | 93.02 ± 0.15 | — |\n\
         | bp + ENN | 93.40 ± 0.20 | 0.0076 |\n"
    );
    let html = t.to_html();
    assert!(html.contains("<th class=\"num\">test accuracy (%)</th>"));
    assert!(html.contains("<td>bp + ENN</td><td class=\"num\">93.40 ± 0.20</td>"));
    let mut bad = Table::new(["a", "b"]);
    assert!(matches!(
        bad.push_row(["only one"]),
        Err(Error::Shape { .. })
    ));
}

#[test]
fn html_escaping_covers_markup_and_quotes() {
    assert_eq!(
        escape_html("<a href=\"x\">Tom & Jerry's</a>"),
        "&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&#39;s&lt;/a&gt;"
    );
    let mut r = Report::new("A <b>bold</b> title");
    let mut t = Table::new(["<th>"]);
    t.push_row(["</td><script>"]).unwrap();
    r.paragraph("<script>alert(1)</script>")
        .code("cargo run -- --out \"runs/<x>\" && echo done")
        .table(&t);
    let html = r.to_html();
    assert!(!html.contains("<script>"));
    assert!(!html.contains("<b>bold"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(html.contains("<pre><code>cargo run -- --out &quot;runs/&lt;x&gt;&quot; &amp;&amp; echo done</code></pre>"));
    assert!(html.contains("<th>&lt;th&gt;</th>"));
    let md = r.to_markdown("images");
    assert!(md.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(md.contains("```\ncargo run -- --out \"runs/<x>\" && echo done\n```"));
}

#[test]
fn csv_roundtrips_fields_that_need_quoting() {
    let mut t = Table::new(["name", "value", "note"]);
    t.push_row(["plain", "1.5", ""]).unwrap();
    t.push_row(["a,b", "say \"hi\"", "two\nlines"]).unwrap();
    t.push_row([" padded ", "93.02 ± 0.15", "\r\n"]).unwrap();
    let text = to_csv(&t);
    assert_eq!(
        text,
        "name,value,note\nplain,1.5,\n\"a,b\",\"say \"\"hi\"\"\",\"two\nlines\"\n\" padded \",93.02 ± 0.15,\"\r\n\"\n"
    );
    assert_eq!(parse_csv(&text, Path::new("mem")).unwrap(), t);

    let dir = temp_dir("csv");
    let path = dir.join("runs.csv");
    write_csv(&path, &t).unwrap();
    assert_eq!(read_csv(&path).unwrap(), t);
    // A one-column table with an empty cell survives (written as "").
    let mut one = Table::new(["only"]);
    one.push_row([""]).unwrap();
    assert_eq!(parse_csv(&to_csv(&one), Path::new("mem")).unwrap(), one);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn csv_roundtrips_random_tables_of_awkward_fields() {
    let mut rng = StdRng::seed_from_u64(0x5eed_0005);
    let alphabet = ['a', ',', '"', '\n', '\r', ' ', '±', 'x', '1'];
    let field = |rng: &mut StdRng| -> String {
        (0..rng.gen_range(0..5))
            .map(|_| alphabet[rng.gen_range(0..alphabet.len())])
            .collect()
    };
    for case in 0..500 {
        let cols = rng.gen_range(1..4);
        let mut t = Table::new((0..cols).map(|c| format!("h{c}")));
        for _ in 0..rng.gen_range(0..4) {
            let row: Vec<String> = (0..cols).map(|_| field(&mut rng)).collect();
            t.push_row(row).unwrap();
        }
        let text = to_csv(&t);
        assert_eq!(
            parse_csv(&text, Path::new("mem")).unwrap(),
            t,
            "case {case}: {text:?}"
        );
    }
}

#[test]
fn csv_reader_accepts_crlf_and_bom_and_reports_damage_with_offsets() {
    let t = parse_csv("\u{feff}a,b\r\n1,2\r\n\r\n3,4", Path::new("x.csv")).unwrap();
    assert_eq!(t.headers, ["a", "b"]);
    assert_eq!(t.rows, [["1", "2"], ["3", "4"]]);

    let offset_of = |text: &str| match parse_csv(text, Path::new("x.csv")) {
        Err(Error::Format { offset, .. }) => offset,
        other => panic!("expected a Format error for {text:?}, got {other:?}"),
    };
    assert_eq!(offset_of(""), Some(0));
    assert_eq!(offset_of("a,b\n1,\"open"), Some(6), "unterminated quote");
    assert_eq!(
        offset_of("a,b\n\"x\"y,2"),
        Some(7),
        "text after closing quote"
    );
    assert_eq!(offset_of("a,b\nx\"y,2"), Some(5), "quote in unquoted field");
    assert_eq!(offset_of("a,b\n1,2\n3\n"), Some(8), "short row");
}

#[test]
fn json_is_written_pretty_and_read_back() {
    let dir = temp_dir("json");
    let path = dir.join("summary.json");
    let value = serde_json::json!({"arm": "bp", "acc": [93.02, 93.1], "p": null});
    write_json_pretty(&path, &value).unwrap();
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains("\n  \"acc\": ["), "two-space indent: {text}");
    assert!(text.ends_with("}\n"));
    assert_eq!(read_json(&path).unwrap(), value);
    std::fs::write(&path, "{\"a\": ").unwrap();
    assert!(matches!(read_json(&path), Err(Error::Format { .. })));
    std::fs::remove_dir_all(&dir).unwrap();
}

// ---------------------------------------------------------------------------------------------
// A complete sample report

/// Builds a report with every kind of block. Written to `$GI_REPORT_SAMPLE_DIR` when set (to
/// open it in a browser), else to a temp dir that is removed afterwards.
#[test]
fn sample_report_writes_html_markdown_and_every_linked_image() {
    let keep = std::env::var_os("GI_REPORT_SAMPLE_DIR").map(PathBuf::from);
    let dir = keep.clone().unwrap_or_else(|| temp_dir("sample"));

    let mut rng = StdRng::seed_from_u64(0x5eed_0003);
    // A 15x117 signed "weight" map with structure plus noise, and a few NaNs.
    let (h, w) = (15, 117);
    let mut weights: Vec<f32> = (0..h * w)
        .map(|i| {
            let (r, c) = ((i / w) as f32, (i % w) as f32);
            0.2 * (c / 9.0).sin() * (r / 3.0).cos() + rng.gen_range(-0.05..0.05)
        })
        .collect();
    weights[5 * w + 60] = f32::NAN;
    let opts = HeatmapOptions {
        colormap: Colormap::BlueWhiteRed,
        range: ValueRange::SymmetricAroundZero,
        scale_x: 6,
        scale_y: 6,
        legend: true,
    };
    let (lo, hi) = resolve_range(&weights, opts.range).unwrap();
    let png = heatmap_png(&weights, h, w, &opts).unwrap();

    let stats = welch_t_test(
        &[93.1, 92.8, 93.4, 92.9, 93.0],
        &[92.5, 92.7, 92.4, 92.9, 92.6],
    );
    let mut report = Report::new("Grad-Instructor sample report");
    report
        .paragraph("Every number below is synthetic; this page exercises the report layer.")
        .code("cargo test --release --test report sample_report")
        .heading("Accuracy")
        .table(&sample_table())
        .paragraph(format!(
            "Welch t = {:.3}, df = {:.2}, p = {:.4}.",
            stats.t, stats.df, stats.p_two_sided
        ))
        .heading("Curves")
        .svg("Training loss (log y)", line_plot(&sample_line_plot()))
        .svg("ENN score vs accuracy", scatter_plot(&sample_scatter()))
        .heading("Weights")
        .png(
            format!(
                "First-layer weights, 15x117, blue = negative, red = positive; legend ticks at \
                 {lo:.3}, {:.3}, 0, {:.3}, {hi:.3} (bottom to top); gray = NaN.",
                lo / 2.0,
                hi / 2.0
            ),
            png.clone(),
        );
    report.write(&dir).unwrap();

    let html = std::fs::read_to_string(dir.join("report.html")).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains(&format!("data:image/png;base64,{}", base64::encode(&png))));
    assert_eq!(html.matches("<svg xmlns").count(), 2);
    assert!(
        !html.contains("src=\"images/"),
        "the HTML is self-contained"
    );
    let md = std::fs::read_to_string(dir.join("report.md")).unwrap();
    let links: Vec<&str> = md
        .split("](<")
        .skip(1)
        .map(|s| s.split(">)").next().unwrap())
        .collect();
    assert_eq!(links.len(), 3);
    for link in &links {
        assert!(
            dir.join(link).is_file(),
            "markdown links a missing file {link}"
        );
    }
    assert!(links[0].ends_with(".svg") && links[1].ends_with(".svg"));
    assert_eq!(std::fs::read(dir.join(links[2])).unwrap(), png);
    if keep.is_none() {
        std::fs::remove_dir_all(&dir).unwrap();
    } else {
        println!("sample report written to {}", dir.display());
    }
}
