//! The masks compared: top-p% by a score (random tie break), random, and the
//! structure-matched rearrangements of the heat (rolled, rows or columns permuted).

use crate::error::{Error, Result};
use crate::tensor::Tensor;
use rand::seq::SliceRandom;
use rand::Rng;

/// Which entries a mask keeps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MaskKind {
    /// The top entries by Grad-CAM heat.
    Heat,
    /// The largest |w|.
    Magnitude,
    /// Uniformly random entries.
    Random,
    /// The heat map cyclically shifted by a random nonzero offset on both axes.
    HeatRolled,
    /// The heat map with its rows (hidden units) shuffled.
    HeatRowsPermuted,
    /// The heat map with its columns (inputs) shuffled.
    HeatColumnsPermuted,
    /// The top entries by the heat of a *fresh* (untrained) ENN with the same image: what
    /// any ENN of this architecture reading this image would mark, before learning anything.
    FreshEnnHeat,
}

impl MaskKind {
    /// The kinds every study runs, heat first ([`MaskKind::FreshEnnHeat`] joins them when
    /// every case has a fresh ENN's heat).
    pub const ALL: [MaskKind; 6] = [
        MaskKind::Heat,
        MaskKind::Magnitude,
        MaskKind::Random,
        MaskKind::HeatRolled,
        MaskKind::HeatRowsPermuted,
        MaskKind::HeatColumnsPermuted,
    ];

    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            MaskKind::Heat => "grad-cam heat",
            MaskKind::Magnitude => "magnitude |w|",
            MaskKind::Random => "random",
            MaskKind::HeatRolled => "heat, rolled",
            MaskKind::HeatRowsPermuted => "heat, rows permuted",
            MaskKind::HeatColumnsPermuted => "heat, columns permuted",
            MaskKind::FreshEnnHeat => "heat of a fresh ENN",
        }
    }

    /// Whether each draw of this kind is random (several per MLP are averaged).
    pub fn is_drawn(self) -> bool {
        !matches!(
            self,
            MaskKind::Heat | MaskKind::Magnitude | MaskKind::FreshEnnHeat
        )
    }
}

fn keep_count(n: usize, fraction: f64) -> usize {
    ((fraction * n as f64).round() as usize).clamp(1, n.max(1))
}

/// Keeps the `round(fraction · n)` highest scores (at least one). Ties are broken by a random
/// order drawn from `rng`; NaN ranks below every number.
pub fn top_fraction_mask(scores: &[f32], fraction: f64, rng: &mut impl Rng) -> Vec<bool> {
    let keep = keep_count(scores.len(), fraction);
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.shuffle(rng);
    // A stable sort keeps the shuffled order among equal scores.
    order.sort_by(|&i, &j| {
        let (a, b) = (scores[i], scores[j]);
        match (a.is_nan(), b.is_nan()) {
            (false, false) => b.partial_cmp(&a).expect("not NaN"),
            (an, bn) => an.cmp(&bn),
        }
    });
    let mut mask = vec![false; scores.len()];
    order.iter().take(keep).for_each(|&i| mask[i] = true);
    mask
}

/// A uniformly random mask keeping `round(fraction · n)` entries.
pub fn random_mask(n: usize, fraction: f64, rng: &mut impl Rng) -> Vec<bool> {
    let keep = keep_count(n, fraction);
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut mask = vec![false; n];
    order.iter().take(keep).for_each(|&i| mask[i] = true);
    mask
}

/// `map` (rows × cols) cyclically shifted: `out[(r + dr) % rows][(c + dc) % cols] = map[r][c]`.
pub fn roll(map: &[f32], rows: usize, cols: usize, dr: usize, dc: usize) -> Vec<f32> {
    let mut out = vec![0.0f32; map.len()];
    for r in 0..rows {
        for c in 0..cols {
            out[(r + dr) % rows * cols + (c + dc) % cols] = map[r * cols + c];
        }
    }
    out
}

/// `map` with row `i` moved to row `perm[i]`.
pub fn permute_rows(map: &[f32], cols: usize, perm: &[usize]) -> Vec<f32> {
    let mut out = vec![0.0f32; map.len()];
    for (i, &to) in perm.iter().enumerate() {
        out[to * cols..(to + 1) * cols].copy_from_slice(&map[i * cols..(i + 1) * cols]);
    }
    out
}

/// `map` with column `j` moved to column `perm[j]`.
pub fn permute_columns(map: &[f32], cols: usize, perm: &[usize]) -> Vec<f32> {
    let mut out = vec![0.0f32; map.len()];
    for (src, dst) in map.chunks_exact(cols).zip(out.chunks_exact_mut(cols)) {
        for (j, &to) in perm.iter().enumerate() {
            dst[to] = src[j];
        }
    }
    out
}

/// A random offset in `1..len` (0 when `len == 1`: nothing to shift).
fn nonzero_offset(len: usize, rng: &mut impl Rng) -> usize {
    if len > 1 {
        rng.gen_range(1..len)
    } else {
        0
    }
}

/// One mask of `kind` over W1 (rows × cols) keeping `fraction` of it.
pub fn make_mask(
    kind: MaskKind,
    heat: &Tensor,
    w1: &Tensor,
    fraction: f64,
    rng: &mut impl Rng,
) -> Result<Vec<bool>> {
    let (rows, cols) = w1.matrix_dims("make_mask")?;
    if heat.shape() != w1.shape() {
        return Err(Error::shape(
            "make_mask",
            format!("heat shaped like W1 {}", w1.shape()),
            format!("{}", heat.shape()),
        ));
    }
    let h = heat.data();
    Ok(match kind {
        // The caller passes the fresh ENN's heat as `heat` for FreshEnnHeat.
        MaskKind::Heat | MaskKind::FreshEnnHeat => top_fraction_mask(h, fraction, rng),
        MaskKind::Magnitude => {
            let m: Vec<f32> = w1.data().iter().map(|w| w.abs()).collect();
            top_fraction_mask(&m, fraction, rng)
        }
        MaskKind::Random => random_mask(w1.numel(), fraction, rng),
        MaskKind::HeatRolled => {
            let (dr, dc) = (nonzero_offset(rows, rng), nonzero_offset(cols, rng));
            top_fraction_mask(&roll(h, rows, cols, dr, dc), fraction, rng)
        }
        MaskKind::HeatRowsPermuted => {
            let mut perm: Vec<usize> = (0..rows).collect();
            perm.shuffle(rng);
            top_fraction_mask(&permute_rows(h, cols, &perm), fraction, rng)
        }
        MaskKind::HeatColumnsPermuted => {
            let mut perm: Vec<usize> = (0..cols).collect();
            perm.shuffle(rng);
            top_fraction_mask(&permute_columns(h, cols, &perm), fraction, rng)
        }
    })
}

/// Zeros the entries of `w` where `mask` is false.
pub fn apply_mask(w: &mut Tensor, mask: &[bool]) -> Result<()> {
    if mask.len() != w.numel() {
        return Err(Error::shape(
            "apply_mask",
            format!("{} mask entries", w.numel()),
            format!("{}", mask.len()),
        ));
    }
    w.data_mut()
        .iter_mut()
        .zip(mask)
        .filter(|(_, &keep)| !keep)
        .for_each(|(x, _)| *x = 0.0);
    Ok(())
}
