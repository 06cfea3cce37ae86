//! The IDX file format (the container MNIST ships in), u8 element type only.
//!
//! Layout, all integers big-endian:
//!
//! ```text
//! offset 0   2 bytes  0x00 0x00
//! offset 2   1 byte   element type (0x08 = u8; 0x09 i8, 0x0B i16, 0x0C i32, 0x0D f32, 0x0E f64)
//! offset 3   1 byte   rank r
//! offset 4   4*r      dimensions d_0 .. d_{r-1}, u32 each
//! offset 4+4r         d_0 * .. * d_{r-1} elements, row-major
//! ```
//!
//! So an MNIST label file starts with the magic number `0x00000801` and an image file with
//! `0x00000803`. The reader takes the file gzip-compressed or raw and tells them apart by
//! content (a gzip stream starts with `1f 8b`), not by file name.
//!
//! Hostile input: the declared size is capped ([`MAX_IDX_BYTES`]) before anything is
//! allocated, and the data is read in growing chunks, so a header that declares a gigabyte
//! over a ten-byte file allocates 64 KiB, not a gigabyte. Every malformed case is an
//! [`Error::Format`] naming the file, the byte offset in the (decompressed) stream, and what
//! was expected versus found.

use crate::error::{Error, Result};
use flate2::read::MultiGzDecoder;
use std::io::{self, Read};
use std::path::Path;

/// Largest data section the reader accepts (1 GiB). MNIST's largest file holds 47 MB.
pub const MAX_IDX_BYTES: u64 = 1 << 30;

/// Highest rank the reader accepts. IDX allows up to 255; MNIST uses 1 (labels) and 3
/// (images), and nothing in this crate needs more than a tensor's 4.
pub const MAX_IDX_RANK: usize = 4;

/// The IDX element-type byte for unsigned bytes, the only type supported.
pub const IDX_TYPE_U8: u8 = 0x08;

/// First chunk of the data buffer; it then at most doubles, capped at the declared size, so
/// the allocation is never more than about twice the bytes actually present plus this.
const FIRST_CHUNK: usize = 1 << 16;

/// A decoded IDX file: dimensions (outermost first) and the u8 elements, row-major.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdxArray {
    /// Dimensions, outermost first (e.g. `[60000, 28, 28]`).
    pub dims: Vec<usize>,
    /// The elements, `dims.iter().product()` of them.
    pub data: Vec<u8>,
}

impl IdxArray {
    /// The magic number this array would be written with: `0x0000_08rr` for rank r.
    pub fn magic(&self) -> u32 {
        0x0800 | self.dims.len() as u32
    }
}

/// Name of an IDX element-type byte, for error messages.
fn type_name(t: u8) -> &'static str {
    match t {
        0x08 => "u8",
        0x09 => "i8",
        0x0B => "i16",
        0x0C => "i32",
        0x0D => "f32",
        0x0E => "f64",
        _ => "not an IDX type",
    }
}

/// `60000x28x28`.
fn dims_text(dims: &[usize]) -> String {
    dims.iter()
        .map(|d| d.to_string())
        .collect::<Vec<_>>()
        .join("x")
}

const EXPECTED_MAGIC: &str = "expected 0x00000801 (labels) or 0x00000803 (images)";

/// Reads an IDX file from disk, gzip-compressed or raw (decided by content).
pub fn read_idx_file(path: &Path) -> Result<IdxArray> {
    let file = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    read_idx(io::BufReader::with_capacity(1 << 16, file), path)
}

/// Parses an IDX file held in memory (gzip or raw). `origin` names it in errors.
pub fn parse_idx(bytes: &[u8], origin: &Path) -> Result<IdxArray> {
    read_idx(bytes, origin)
}

/// Reads an IDX stream, gzip-compressed or raw (sniffed from the first two bytes).
/// `origin` names the stream in errors.
pub fn read_idx(mut reader: impl Read, origin: &Path) -> Result<IdxArray> {
    // Sniff: read up to two bytes, then put them back in front of the rest of the stream.
    let mut prefix = [0u8; 2];
    let got = read_full(&mut reader, &mut prefix).map_err(|e| Error::io(origin, e))?;
    if got == 0 {
        return Err(Error::format(
            origin,
            Some(0),
            "empty file (expected an IDX header or a gzip stream)",
        ));
    }
    let stream = (&prefix[..got]).chain(reader);
    if got == 2 && prefix == [0x1f, 0x8b] {
        let mut src = Source {
            inner: MultiGzDecoder::new(stream),
            gzip: true,
            origin,
            pos: 0,
        };
        decode(&mut src)
    } else {
        let mut src = Source {
            inner: stream,
            gzip: false,
            origin,
            pos: 0,
        };
        decode(&mut src)
    }
}

/// A byte stream that tracks its position and turns read failures into typed errors.
struct Source<'p, R> {
    inner: R,
    gzip: bool,
    origin: &'p Path,
    /// Bytes consumed so far from the (decompressed) stream.
    pos: u64,
}

impl<R: Read> Source<'_, R> {
    fn err(&self, reason: impl Into<String>) -> Error {
        Error::format(self.origin, Some(self.pos), reason)
    }

    /// Fills as much of `buf` as the stream holds; returns how many bytes were read.
    fn fill(&mut self, buf: &mut [u8]) -> Result<usize> {
        let n = read_full(&mut self.inner, buf).map_err(|e| self.read_error(e))?;
        self.pos += n as u64;
        Ok(n)
    }

    /// In a gzip stream every read error is the decompressor rejecting the bytes (bad header,
    /// bad deflate data, CRC or length mismatch, stream cut short); in a raw file it is the OS.
    fn read_error(&self, e: io::Error) -> Error {
        if self.gzip {
            self.err(format!("corrupt or truncated gzip stream: {e}"))
        } else {
            Error::io(self.origin, e)
        }
    }

    /// Reads exactly `buf.len()` header bytes or reports which header field is cut short.
    fn header(&mut self, buf: &mut [u8], what: &str) -> Result<()> {
        let start = self.pos;
        let n = self.fill(buf)?;
        if n < buf.len() {
            return Err(Error::format(
                self.origin,
                Some(start + n as u64),
                format!(
                    "truncated header: {what} needs {} bytes at byte {start}, file ends after {n}",
                    buf.len()
                ),
            ));
        }
        Ok(())
    }
}

fn decode<R: Read>(src: &mut Source<'_, R>) -> Result<IdxArray> {
    let rank = read_magic(src)?;
    let (dims, declared) = read_dims(src, rank)?;
    let header_len = src.pos;
    let data = read_data(src, &dims, declared)?;
    check_no_trailing(src, &dims, header_len, declared)?;
    Ok(IdxArray { dims, data })
}

/// The magic number `00 00 08 rank`; returns the rank.
fn read_magic<R: Read>(src: &mut Source<'_, R>) -> Result<usize> {
    let mut magic = [0u8; 4];
    src.header(&mut magic, "the magic number")?;
    let magic_num = u32::from_be_bytes(magic);
    if magic[0] != 0 || magic[1] != 0 {
        return Err(Error::format(
            src.origin,
            Some(0),
            format!(
                "wrong magic number 0x{magic_num:08x}: the first two bytes must be zero; \
                 {EXPECTED_MAGIC}"
            ),
        ));
    }
    if magic[2] != IDX_TYPE_U8 {
        return Err(Error::format(
            src.origin,
            Some(2),
            format!(
                "wrong magic number 0x{magic_num:08x}: element type 0x{:02x} ({}) is not \
                 supported, only 0x08 (u8); {EXPECTED_MAGIC}",
                magic[2],
                type_name(magic[2])
            ),
        ));
    }
    let rank = magic[3] as usize;
    if rank == 0 || rank > MAX_IDX_RANK {
        return Err(Error::format(
            src.origin,
            Some(3),
            format!(
                "wrong magic number 0x{magic_num:08x}: rank {rank} is not supported \
                 (1..={MAX_IDX_RANK}); {EXPECTED_MAGIC}"
            ),
        ));
    }

    Ok(rank)
}

/// The `rank` big-endian u32 dimensions, none zero; returns them and their product (bytes of
/// data declared), which must not exceed the size limit.
fn read_dims<R: Read>(src: &mut Source<'_, R>, rank: usize) -> Result<(Vec<usize>, usize)> {
    let mut dims = Vec::with_capacity(rank);
    for axis in 0..rank {
        let mut d = [0u8; 4];
        src.header(&mut d, &format!("dimension {axis} of {rank}"))?;
        dims.push(u32::from_be_bytes(d) as usize);
    }
    if let Some(axis) = dims.iter().position(|&d| d == 0) {
        return Err(Error::format(
            src.origin,
            Some(4 + 4 * axis as u64),
            format!("dimension {axis} is zero in {}", dims_text(&dims)),
        ));
    }
    // u64 arithmetic: four u32 factors can overflow even u64 (2^128), so check each step.
    let declared = dims
        .iter()
        .try_fold(1u64, |acc, &d| acc.checked_mul(d as u64))
        .filter(|&n| n <= MAX_IDX_BYTES)
        .ok_or_else(|| {
            src.err(format!(
                "declared {} elements exceed the {MAX_IDX_BYTES}-byte limit",
                dims_text(&dims)
            ))
        })? as usize;

    Ok((dims, declared))
}

/// The `declared` data bytes that follow the header.
fn read_data<R: Read>(src: &mut Source<'_, R>, dims: &[usize], declared: usize) -> Result<Vec<u8>> {
    // Read in chunks that at most double, so memory follows the bytes present, not the
    // bytes claimed.
    let header_len = src.pos;
    let mut data: Vec<u8> = Vec::new();
    while data.len() < declared {
        let start = data.len();
        let end = declared.min(start + start.max(FIRST_CHUNK));
        data.reserve_exact(end - start);
        data.resize(end, 0);
        let n = src.fill(&mut data[start..end])?;
        if n < end - start {
            let held = start + n;
            return Err(Error::format(
                src.origin,
                Some(header_len + held as u64),
                format!(
                    "truncated data: declared {} = {declared} bytes, file holds {held}",
                    dims_text(dims)
                ),
            ));
        }
    }

    Ok(data)
}

/// Nothing may follow the `declared` data bytes after the `header_len`-byte header. Reading to
/// the end also makes gzip verify its CRC.
fn check_no_trailing<R: Read>(
    src: &mut Source<'_, R>,
    dims: &[usize],
    header_len: u64,
    declared: usize,
) -> Result<()> {
    let mut probe = [0u8; 4096];
    let mut trailing = 0u64;
    loop {
        let n = src.fill(&mut probe)?;
        if n == 0 {
            break;
        }
        trailing += n as u64;
        if trailing >= MAX_IDX_BYTES {
            break;
        }
    }
    if trailing > 0 {
        return Err(Error::format(
            src.origin,
            Some(header_len + declared as u64),
            format!(
                "{trailing} trailing bytes after the declared {} = {declared} bytes of data",
                dims_text(dims)
            ),
        ));
    }
    Ok(())
}

/// Reads until `buf` is full or the stream ends; returns the bytes read.
fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Encodes a u8 IDX file (raw, not compressed): the inverse of [`read_idx`], used by tests
/// and fuzz seeds. Error if a dimension does not fit in u32, the rank is outside
/// 1..=[`MAX_IDX_RANK`], or `data` does not hold the product of `dims`.
pub fn encode_idx(dims: &[usize], data: &[u8]) -> Result<Vec<u8>> {
    if dims.is_empty() || dims.len() > MAX_IDX_RANK {
        return Err(Error::invalid(
            "encode_idx",
            format!("rank {} outside 1..={MAX_IDX_RANK}", dims.len()),
        ));
    }
    let numel = dims.iter().try_fold(1usize, |a, &d| a.checked_mul(d));
    if numel != Some(data.len()) || dims.iter().any(|&d| d > u32::MAX as usize) {
        return Err(Error::invalid(
            "encode_idx",
            format!("{} bytes for dims {}", data.len(), dims_text(dims)),
        ));
    }
    let mut out = Vec::with_capacity(4 + 4 * dims.len() + data.len());
    out.extend_from_slice(&[0, 0, IDX_TYPE_U8, dims.len() as u8]);
    for &d in dims {
        out.extend_from_slice(&(d as u32).to_be_bytes());
    }
    out.extend_from_slice(data);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_then_read_round_trips() {
        let data: Vec<u8> = (0..24).collect();
        let bytes = encode_idx(&[2, 3, 4], &data).unwrap();
        let a = parse_idx(&bytes, Path::new("mem")).unwrap();
        assert_eq!(a.dims, vec![2, 3, 4]);
        assert_eq!(a.data, data);
        assert_eq!(a.magic(), 0x0803);
    }

    #[test]
    fn huge_declared_size_is_refused_before_allocating() {
        // (2^32 - 1)^4 overflows even u64: the checked product must catch it, not wrap.
        let mut bytes = vec![0, 0, 8, 4];
        for _ in 0..4 {
            bytes.extend_from_slice(&0xffff_ffffu32.to_be_bytes());
        }
        let e = parse_idx(&bytes, Path::new("mem")).unwrap_err();
        assert!(e.to_string().contains("limit"), "{e}");
    }
}
