//! A trained ENN's weights file: one safetensors file holding the ENN's parameters (its
//! [`named_params`](EvaluationNet::named_params) names), its image settings (metadata
//! `image`, JSON) and the caller's own metadata, sealed with a CRC-32 of all of it
//! ([`safetensors::save_checked`]). Loading verifies the checksum (a missing or wrong one is
//! an error naming the file), requires every parameter to be finite and restores the image
//! settings, so that an ENN runs as it was trained.

use super::enn::EvaluationNet;
use super::weight_image::WeightImageConfig;
use crate::error::{Error, Result};
use crate::io::safetensors::{self, CHECKSUM_KEY};
use crate::tensor::Tensor;
use std::path::Path;

/// The metadata key of the image settings.
pub const IMAGE_KEY: &str = "image";

/// The first non-finite parameter, as `(name, index, value)`.
fn first_non_finite<'a>(
    named: impl IntoIterator<Item = (String, &'a Tensor)>,
) -> Option<(String, usize, f32)> {
    named.into_iter().find_map(|(n, t)| {
        let i = t.data().iter().position(|v| !v.is_finite())?;
        Some((n, i, t.data()[i]))
    })
}

/// Writes `enn` to `path` atomically, with `metadata` (keys other than `image` and `crc32`,
/// which the file reserves). Refuses an ENN with a non-finite parameter.
pub fn save_enn(path: &Path, enn: &EvaluationNet, metadata: &[(&str, &str)]) -> Result<()> {
    if let Some((name, i, v)) = first_non_finite(enn.named_params()) {
        return Err(Error::invalid(
            "save_enn",
            format!("ENN parameter {name:?} holds {v} at index {i}; not saved"),
        ));
    }
    if let Some((k, _)) = metadata
        .iter()
        .find(|(k, _)| [IMAGE_KEY, CHECKSUM_KEY].contains(k))
    {
        return Err(Error::invalid(
            "save_enn",
            format!("metadata key {k:?} is reserved by the ENN file"),
        ));
    }
    let image =
        serde_json::to_string(&enn.image).map_err(|e| Error::invalid("save_enn", e.to_string()))?;
    let mut meta = metadata.to_vec();
    meta.push((IMAGE_KEY, &image));
    let named = enn.named_params();
    let tensors: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    safetensors::save_checked(path, &tensors, &meta)
}

/// Reads an ENN written by [`save_enn`]: the ENN (with its image settings) and the caller's
/// metadata. Every problem — no or a wrong checksum, a missing, extra or misshapen tensor, a
/// non-finite parameter, missing image settings — is an [`Error::Format`] naming the file.
pub fn read_enn(path: &Path) -> Result<(EvaluationNet, Vec<(String, String)>)> {
    let bad = |reason: String| Error::format(path, None, reason);
    let w = safetensors::load_checked(path)?;
    let image: WeightImageConfig = serde_json::from_str(w.meta(IMAGE_KEY).ok_or_else(|| {
        bad(format!(
            "metadata {IMAGE_KEY:?} (the image settings) missing"
        ))
    })?)
    .map_err(|e| {
        bad(format!(
            "metadata {IMAGE_KEY:?} is not an image configuration: {e}"
        ))
    })?;
    let metadata = w
        .metadata
        .into_iter()
        .filter(|(k, _)| k != IMAGE_KEY && k != CHECKSUM_KEY)
        .collect();
    if let Some((name, i, v)) = first_non_finite(w.tensors.iter().map(|(n, t)| (n.clone(), t))) {
        return Err(bad(format!(
            "ENN parameter {name:?} holds {v} at index {i}"
        )));
    }
    let mut enn = EvaluationNet::from_named(w.tensors).map_err(|e| bad(e.to_string()))?;
    enn.image = image;
    Ok((enn, metadata))
}

/// [`read_enn`] without the metadata.
pub fn load_enn(path: &Path) -> Result<EvaluationNet> {
    read_enn(path).map(|(enn, _)| enn)
}
