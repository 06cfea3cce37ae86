//! The content checksum: [`content_crc32`] over metadata and tensors, written as the
//! [`CHECKSUM_KEY`] metadata entry and verified on load.

use super::*;

/// The metadata key holding the checksum (8 lowercase hex digits) that
/// [`to_bytes_checked`] writes.
pub const CHECKSUM_KEY: &str = "crc32";

/// The CRC-32 of a file's content: the metadata entries except [`CHECKSUM_KEY`] sorted by
/// key, then the tensors sorted by name (name, rank, dimensions, f32 little-endian data),
/// each field preceded by its byte length so that no two contents give the same byte stream.
pub fn content_crc32(tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> u32 {
    let mut crc = flate2::Crc::new();
    let field = |crc: &mut flate2::Crc, bytes: &[u8]| {
        crc.update(&(bytes.len() as u64).to_le_bytes());
        crc.update(bytes);
    };
    let mut meta: Vec<&(&str, &str)> = metadata
        .iter()
        .filter(|(k, _)| *k != CHECKSUM_KEY)
        .collect();
    meta.sort();
    for (k, v) in meta {
        field(&mut crc, k.as_bytes());
        field(&mut crc, v.as_bytes());
    }
    let mut sorted: Vec<&(&str, &Tensor)> = tensors.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(b.0));
    let mut buf = Vec::with_capacity(4096);
    for (name, t) in sorted {
        field(&mut crc, name.as_bytes());
        let dims: Vec<u8> = t
            .dims()
            .iter()
            .flat_map(|&d| (d as u64).to_le_bytes())
            .collect();
        field(&mut crc, &dims);
        crc.update(&(4 * t.numel() as u64).to_le_bytes());
        for chunk in t.data().chunks(1024) {
            buf.clear();
            buf.extend(chunk.iter().flat_map(|x| x.to_le_bytes()));
            crc.update(&buf);
        }
    }
    crc.sum()
}

/// [`to_bytes`] plus the [`CHECKSUM_KEY`] entry (see the module docs). Error if `metadata`
/// already holds that key.
pub fn to_bytes_checked(tensors: &[(&str, &Tensor)], metadata: &[(&str, &str)]) -> Result<Vec<u8>> {
    if metadata.iter().any(|(k, _)| *k == CHECKSUM_KEY) {
        return Err(Error::invalid(
            "safetensors::to_bytes_checked",
            format!("metadata key {CHECKSUM_KEY:?} is reserved for the checksum"),
        ));
    }
    let sum = format!("{:08x}", content_crc32(tensors, metadata));
    let mut meta = metadata.to_vec();
    meta.push((CHECKSUM_KEY, &sum));
    to_bytes(tensors, &meta)
}

/// Writes a checksummed safetensors file atomically (see [`to_bytes_checked`]).
pub fn save_checked(
    path: &Path,
    tensors: &[(&str, &Tensor)],
    metadata: &[(&str, &str)],
) -> Result<()> {
    write_atomic(path, &to_bytes_checked(tensors, metadata)?)
}

/// Verifies the checksum of parsed weights, if they carry one (`required`: they must).
pub(super) fn verify_checksum(w: &Weights, origin: &Path, required: bool) -> Result<()> {
    let Some(stored) = w.meta(CHECKSUM_KEY) else {
        if required {
            return Err(Error::format(
                origin,
                None,
                format!(
                    "no {CHECKSUM_KEY:?} checksum in the metadata (not written by this crate's \
                     checked writer, or the header was damaged)"
                ),
            ));
        }
        return Ok(());
    };
    let tensors: Vec<(&str, &Tensor)> = w.tensors.iter().map(|(n, t)| (n.as_str(), t)).collect();
    let meta: Vec<(&str, &str)> = w
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let computed = format!("{:08x}", content_crc32(&tensors, &meta));
    if stored != computed {
        return Err(Error::format(
            origin,
            None,
            format!(
                "checksum mismatch: the file's tensors or metadata changed after it was \
                 written (stored CRC-32 {stored:?}, content gives {computed:?})"
            ),
        ));
    }
    Ok(())
}

/// Reads a checksummed file ([`save_checked`]): [`load`], and the checksum must be present.
pub fn load_checked(path: &Path) -> Result<Weights> {
    let w = load(path)?;
    verify_checksum(&w, path, true)?;
    Ok(w)
}

/// Parses checksummed bytes: [`from_bytes`], and the checksum must be present.
pub fn from_bytes_checked(bytes: &[u8], origin: &Path) -> Result<Weights> {
    let w = from_bytes_unverified(bytes, origin)?;
    verify_checksum(&w, origin, true)?;
    Ok(w)
}
