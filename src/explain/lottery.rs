//! A strong-lottery-ticket test of Grad-CAM heat (our quantitative version of the paper's
//! qualitative claim that the ENN's attention marks the weights that matter).
//!
//! On an *untrained* MLP, keep the top p% of W1's entries by a score, zero the rest, and
//! measure test accuracy (a) with no training and (b) after fine-tuning for a fixed small
//! budget with the mask held fixed (pruned weights stay zero). Scores compared:
//! Grad-CAM heat, |w| (magnitude pruning), and random masks of the same size.

use crate::data::{Batcher, Dataset};
use crate::error::{Error, Result};
use crate::nn::{Mlp, Sgd};
use crate::stats;
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
    /// Uniformly random entries (averaged over several masks).
    Random,
}

impl MaskKind {
    /// Short name for tables.
    pub fn name(self) -> &'static str {
        match self {
            MaskKind::Heat => "grad-cam heat",
            MaskKind::Magnitude => "magnitude |w|",
            MaskKind::Random => "random",
        }
    }
}

/// Keeps the `round(fraction · n)` highest scores (ties broken by lower index); at least one.
pub fn top_fraction_mask(scores: &[f32], fraction: f64) -> Vec<bool> {
    let keep = ((fraction * scores.len() as f64).round() as usize).clamp(1, scores.len().max(1));
    let mut order: Vec<usize> = (0..scores.len()).collect();
    // Descending by score; NaN sorts last so it is never kept first.
    order.sort_by(|&i, &j| {
        scores[j]
            .partial_cmp(&scores[i])
            .unwrap_or_else(|| scores[i].is_nan().cmp(&scores[j].is_nan()))
            .then(i.cmp(&j))
    });
    let mut mask = vec![false; scores.len()];
    order.iter().take(keep).for_each(|&i| mask[i] = true);
    mask
}

/// A uniformly random mask keeping `round(fraction · n)` entries.
pub fn random_mask(n: usize, fraction: f64, rng: &mut impl Rng) -> Vec<bool> {
    let keep = ((fraction * n as f64).round() as usize).clamp(1, n.max(1));
    let mut order: Vec<usize> = (0..n).collect();
    order.shuffle(rng);
    let mut mask = vec![false; n];
    order.iter().take(keep).for_each(|&i| mask[i] = true);
    mask
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

/// The fine-tuning budget after masking.
#[derive(Clone, Debug, PartialEq)]
pub struct FinetuneConfig {
    /// SGD steps.
    pub steps: usize,
    /// Learning rate.
    pub lr: f32,
    /// Batch size.
    pub batch: usize,
}

impl Default for FinetuneConfig {
    fn default() -> Self {
        FinetuneConfig {
            steps: 200,
            lr: 0.01,
            batch: 64,
        }
    }
}

/// What the lottery test runs.
#[derive(Clone, Debug, PartialEq)]
pub struct LotteryConfig {
    /// Percentages of W1 kept.
    pub percents: Vec<f64>,
    /// Random masks per percentage.
    pub n_random: usize,
    /// Fine-tuning budget after masking.
    pub finetune: FinetuneConfig,
}

impl Default for LotteryConfig {
    fn default() -> Self {
        LotteryConfig {
            percents: vec![5.0, 10.0, 20.0, 50.0],
            n_random: 10,
            finetune: FinetuneConfig::default(),
        }
    }
}

/// One row of the lottery table.
#[derive(Clone, Debug, PartialEq)]
pub struct LotteryRow {
    /// Which score chose the kept weights.
    pub kind: MaskKind,
    /// Percentage of W1 kept.
    pub percent: f64,
    /// Test accuracy with no training: mean and std over masks (std 0 for a single mask).
    pub untrained: (f64, f64),
    /// Test accuracy after fine-tuning with the mask fixed.
    pub finetuned: (f64, f64),
}

/// Fine-tunes `mlp` for `cfg.steps` SGD steps, re-applying `mask` to W1 after every step.
fn finetune(
    mlp: &mut Mlp,
    mask: &[bool],
    cfg: &FinetuneConfig,
    train: &Dataset,
    rng: &mut impl Rng,
) -> Result<()> {
    let mut batcher = Batcher::new(train.len(), cfg.batch, train.dim);
    let mut sgd = Sgd::new(cfg.lr);
    let mut step = 0;
    while step < cfg.steps {
        batcher.shuffle(rng);
        while let Some(batch) = batcher.next_batch(train) {
            if step == cfg.steps {
                break;
            }
            let x = Tensor::from_vec(batch.x.to_vec(), &[batch.len, train.dim])?;
            let (_, grads) = mlp.loss_and_grads(&x, batch.labels, 0.0)?;
            let refs: Vec<&Tensor> = grads.iter().collect();
            sgd.step(&mut mlp.params_mut(), &refs)?;
            apply_mask(&mut mlp.layers[0].weight, mask)?;
            step += 1;
        }
    }
    Ok(())
}

/// Runs the lottery test for each percentage: heat and magnitude masks once, random masks
/// `n_random` times. `heat` is shaped like W1 of `untrained`.
pub fn lottery_test(
    untrained: &Mlp,
    heat: &Tensor,
    config: &LotteryConfig,
    train: &Dataset,
    test: &Dataset,
    rng: &mut impl Rng,
) -> Result<Vec<LotteryRow>> {
    let w1 = &untrained.layers[0].weight;
    if heat.shape() != w1.shape() {
        return Err(Error::shape(
            "lottery_test",
            format!("heat shaped like W1 {}", w1.shape()),
            format!("{}", heat.shape()),
        ));
    }
    let magnitude: Vec<f32> = w1.data().iter().map(|w| w.abs()).collect();
    let mut rows = Vec::new();
    for &p in &config.percents {
        let fraction = p / 100.0;
        for kind in [MaskKind::Heat, MaskKind::Magnitude, MaskKind::Random] {
            let masks: Vec<Vec<bool>> = match kind {
                MaskKind::Heat => vec![top_fraction_mask(heat.data(), fraction)],
                MaskKind::Magnitude => vec![top_fraction_mask(&magnitude, fraction)],
                MaskKind::Random => (0..config.n_random.max(1))
                    .map(|_| random_mask(w1.numel(), fraction, rng))
                    .collect(),
            };
            let (mut before, mut after) = (Vec::new(), Vec::new());
            for mask in &masks {
                let mut mlp = untrained.clone();
                apply_mask(&mut mlp.layers[0].weight, mask)?;
                before.push(mlp.accuracy(&test.images, &test.labels)?);
                finetune(&mut mlp, mask, &config.finetune, train, rng)?;
                after.push(mlp.accuracy(&test.images, &test.labels)?);
            }
            rows.push(LotteryRow {
                kind,
                percent: p,
                untrained: (stats::mean(&before), stats::std_dev(&before)),
                finetuned: (stats::mean(&after), stats::std_dev(&after)),
            });
        }
    }
    Ok(rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn top_fraction_mask_keeps_the_largest_scores() {
        let mask = top_fraction_mask(&[0.1, 0.9, 0.5, 0.7], 0.5);
        assert_eq!(mask, vec![false, true, false, true]);
        assert_eq!(
            top_fraction_mask(&[1.0, 1.0, 1.0], 0.34),
            vec![true, false, false]
        );
    }

    #[test]
    fn random_mask_keeps_exactly_the_requested_count_reproducibly() {
        let a = random_mask(100, 0.2, &mut rand::rngs::StdRng::seed_from_u64(3));
        let b = random_mask(100, 0.2, &mut rand::rngs::StdRng::seed_from_u64(3));
        assert_eq!(a.iter().filter(|&&k| k).count(), 20);
        assert_eq!(a, b);
    }

    #[test]
    fn apply_mask_zeros_exactly_the_dropped_entries() {
        let mut w = Tensor::from_vec(vec![1., 2., 3.], &[3]).unwrap();
        apply_mask(&mut w, &[true, false, true]).unwrap();
        assert_eq!(w.data(), &[1., 0., 3.]);
        assert!(apply_mask(&mut w, &[true]).is_err());
    }
}
