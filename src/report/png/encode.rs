//! The PNG encoder: signature, `IHDR`, one zlib `IDAT`, `IEND`, each chunk with its CRC-32.

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

pub(super) fn write_chunk(out: &mut Vec<u8>, kind: &[u8; 4], data: &[u8]) -> Result<()> {
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
