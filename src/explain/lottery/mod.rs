//! A mask test of the ENN's Grad-CAM heat: do the W1 entries the ENN attends to matter more
//! for an untrained MLP than entries chosen otherwise?
//!
//! On an *untrained* MLP, keep the top p% of W1's entries by a score, zero the rest, and
//! measure test accuracy (a) with no training and (b) after fine-tuning for a fixed small
//! budget with the mask held fixed (pruned weights stay zero). Masks compared:
//!
//! * **heat**: the top entries by the ENN's heat over W1;
//! * **magnitude** |w| (magnitude pruning) and **random** (uniform) masks;
//! * **structure-matched controls**, each the heat map itself rearranged so that its shape
//!   survives and only its placement changes: **rolled** (cyclically shifted by a random,
//!   nonzero offset along both axes — contiguous bands and tap grids stay bands and grids),
//!   **rows permuted** (the hidden units' heat rows shuffled: the same input columns kept, on
//!   other units) and **columns permuted** (the input columns shuffled: every unit keeps as
//!   many entries, at other inputs). Without them a heat mask (contiguous, structured) is only
//!   compared with scattered random masks, and structure is confounded with knowledge;
//! * optionally the **heat of a fresh ENN** (same architecture and image, untrained): where
//!   any such ENN looks before learning anything (with the bilinear image, the 9% of W1 the
//!   taps read) — the control for "the ENN learned which weights matter".
//!
//! Ties in a score (e.g. the many exact zeros of heat mapped through the bilinear image's
//! adjoint) are broken at random with the run's seed, not by index, which would favour the
//! top-left of W1.
//!
//! The study runs over several untrained MLPs (one per seed, each with its own heat map). For
//! each percentage it reports mean ± sd over the MLPs, and for heat against each other mask
//! the paired difference of fine-tuned accuracy (same MLP, same fine-tuning batches) with a
//! seeded bootstrap 95% interval, its paired t-test and Holm-adjusted p-values across all
//! comparisons of the table ([`crate::stats`]).
//!
//! **What it shows**: whether, at equal sparsity and equal fine-tuning budget, keeping the
//! heat's entries gives a better (or worse) sub-network than masks with the same structure
//! placed elsewhere, than magnitude pruning, and than chance. **What it does not show**: it is
//! not a search for a strong lottery ticket (no mask is optimized; untrained accuracy of any
//! of these masks is near chance), it says nothing about other sparsities, budgets or
//! architectures, and an effect here may come from where the heat sits (e.g. on the image's
//! centre pixels) rather than from anything the ENN learned — which is what the controls, and
//! the fresh ENN's heat above all, are for.

mod masks;
mod protocol;
mod summary;

pub use masks::{
    apply_mask, make_mask, permute_columns, permute_rows, random_mask, roll, top_fraction_mask,
    MaskKind,
};

use crate::data::Dataset;
use crate::error::Result;
use crate::nn::Mlp;
use crate::tensor::Tensor;
use protocol::{mask_kinds_for, run_cases, StudyInputs};
use rand::Rng;
use summary::{compare_to_controls, summarize_rows};

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
    /// Draws per MLP of each random kind (random, rolled, rows / columns permuted), averaged.
    pub n_random: usize,
    /// Fine-tuning budget after masking.
    pub finetune: FinetuneConfig,
}

impl Default for LotteryConfig {
    fn default() -> Self {
        LotteryConfig {
            percents: vec![5.0, 10.0, 20.0, 50.0],
            n_random: 3,
            finetune: FinetuneConfig::default(),
        }
    }
}

/// One row of the lottery table: a mask kind at one percentage, over the study's MLPs.
#[derive(Clone, Debug, PartialEq)]
pub struct LotteryRow {
    /// Which score chose the kept weights.
    pub kind: MaskKind,
    /// Percentage of W1 kept.
    pub percent: f64,
    /// Test accuracy with no training: mean and sd over the MLPs (over the draws when the
    /// study has one MLP), each MLP's value the mean over its draws.
    pub untrained: (f64, f64),
    /// Test accuracy after fine-tuning with the mask fixed: mean and sd, as `untrained`.
    pub finetuned: (f64, f64),
    /// Fine-tuned accuracy per MLP (the mean over its draws), in the study's MLP order.
    pub per_mlp: Vec<f64>,
}

/// Heat against one other mask kind at one percentage, paired over the MLPs
/// ([`crate::stats::paired_summary`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LotteryComparison {
    /// Percentage of W1 kept.
    pub percent: f64,
    /// The mask heat is compared with.
    pub control: MaskKind,
    /// Mean over MLPs of fine-tuned accuracy (heat − control).
    pub mean_diff: f64,
    /// Sample sd of those differences (NaN for fewer than two MLPs).
    pub sd_diff: f64,
    /// Percentile-bootstrap 95% interval of the mean difference (10 000 resamples, seeded
    /// by the run's seed; NaN for fewer than two MLPs).
    pub ci: (f64, f64),
    /// Paired t statistic `mean / (sd / √n)`.
    pub t: f64,
    /// Two-sided p-value of the paired t-test (df = n − 1); NaN for n < 2.
    pub p: f64,
    /// Holm-adjusted p-value across every comparison of the study.
    pub p_holm: f64,
}

/// The study over several MLPs.
#[derive(Clone, Debug, PartialEq)]
pub struct LotteryStudy {
    /// The mask kinds of the study, heat first: [`MaskKind::ALL`], then
    /// [`MaskKind::FreshEnnHeat`] when the cases carry a fresh ENN's heat.
    pub kinds: Vec<MaskKind>,
    /// One row per (percentage, kind), percentages in config order, kinds in `kinds` order.
    pub rows: Vec<LotteryRow>,
    /// Heat against each other kind at each percentage.
    pub comparisons: Vec<LotteryComparison>,
    /// The MLP seeds, in the order of [`LotteryRow::per_mlp`].
    pub seeds: Vec<u64>,
}

/// One untrained MLP of the study and the heat over its W1.
#[derive(Clone, Debug)]
pub struct LotteryCase {
    /// The MLP's seed (names it in tables and seeds its mask and fine-tuning streams).
    pub seed: u64,
    /// The untrained MLP.
    pub mlp: Mlp,
    /// The heat over its W1 (W1's shape).
    pub heat: Tensor,
    /// The heat of a fresh (untrained) ENN with the same image configuration, for the
    /// [`MaskKind::FreshEnnHeat`] control (`None`: no such control).
    pub fresh_heat: Option<Tensor>,
}

/// Runs the lottery test on every case (on up to `jobs` threads; results do not depend on
/// `jobs`) and summarizes it (see the module docs). `seed` is the run's seed: it and each
/// case's seed fix every mask draw, tie break and fine-tuning batch. `on_case` is called
/// (from a worker thread) with each case's seed when its masks are done.
pub fn lottery_study(
    cases: &[LotteryCase],
    config: &LotteryConfig,
    train: &Dataset,
    test: &Dataset,
    seed: u64,
    jobs: usize,
    on_case: &(dyn Fn(u64) + Sync),
) -> Result<LotteryStudy> {
    let kinds = mask_kinds_for(cases, config)?;
    let inputs = StudyInputs {
        kinds: &kinds,
        config,
        train,
        test,
        seed,
    };
    let per_case = run_cases(cases, &inputs, jobs, on_case)?;
    let rows = summarize_rows(&per_case, &kinds, &config.percents);
    let comparisons = compare_to_controls(&rows, &kinds, &config.percents, seed)?;
    Ok(LotteryStudy {
        kinds,
        rows,
        comparisons,
        seeds: cases.iter().map(|c| c.seed).collect(),
    })
}

/// The study on one MLP (the spread in each row is over the draws); `rng` supplies the run's
/// seed. Kept for callers that explain a single network.
pub fn lottery_test(
    untrained: &Mlp,
    heat: &Tensor,
    config: &LotteryConfig,
    train: &Dataset,
    test: &Dataset,
    rng: &mut impl Rng,
) -> Result<Vec<LotteryRow>> {
    let case = LotteryCase {
        seed: 0,
        mlp: untrained.clone(),
        heat: heat.clone(),
        fresh_heat: None,
    };
    Ok(lottery_study(&[case], config, train, test, rng.gen(), 1, &|_| {})?.rows)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn top_fraction_mask_keeps_the_largest_scores() {
        let mut rng = StdRng::seed_from_u64(1);
        let mask = top_fraction_mask(&[0.1, 0.9, 0.5, 0.7], 0.5, &mut rng);
        assert_eq!(mask, vec![false, true, false, true]);
        // NaN is never preferred to a number.
        let mask = top_fraction_mask(&[f32::NAN, 0.0, f32::NAN], 0.34, &mut rng);
        assert_eq!(mask, vec![false, true, false]);
    }

    #[test]
    fn ties_are_broken_at_random_by_the_seed_not_by_index() {
        // 1 000 equal scores, keep 10: by index this would always be entries 0..10.
        let scores = vec![0.0f32; 1000];
        let a = top_fraction_mask(&scores, 0.01, &mut StdRng::seed_from_u64(5));
        let b = top_fraction_mask(&scores, 0.01, &mut StdRng::seed_from_u64(5));
        let c = top_fraction_mask(&scores, 0.01, &mut StdRng::seed_from_u64(6));
        assert_eq!(a, b, "same seed, same mask");
        assert_ne!(a, c, "another seed, another mask");
        assert_eq!(a.iter().filter(|&&k| k).count(), 10);
        assert!(a[10..].iter().any(|&k| k), "not the first ten by index");
        // Strictly larger scores always win over the tied zeros.
        let mut s = scores.clone();
        s[999] = 1.0;
        s[500] = 0.5;
        let m = top_fraction_mask(&s, 0.002, &mut StdRng::seed_from_u64(7));
        assert_eq!(
            m.iter()
                .enumerate()
                .filter(|(_, &k)| k)
                .map(|(i, _)| i)
                .collect::<Vec<_>>(),
            vec![500, 999]
        );
    }

    #[test]
    fn random_mask_keeps_exactly_the_requested_count_reproducibly() {
        let a = random_mask(100, 0.2, &mut StdRng::seed_from_u64(3));
        let b = random_mask(100, 0.2, &mut StdRng::seed_from_u64(3));
        assert_eq!(a.iter().filter(|&&k| k).count(), 20);
        assert_eq!(a, b);
    }

    #[test]
    fn roll_and_permutations_move_entries_by_hand() {
        // 2 × 3: [a b c; d e f] = [1 2 3; 4 5 6].
        let m = [1., 2., 3., 4., 5., 6.];
        assert_eq!(roll(&m, 2, 3, 1, 1), vec![6., 4., 5., 3., 1., 2.]);
        assert_eq!(roll(&m, 2, 3, 0, 0), m.to_vec());
        assert_eq!(permute_rows(&m, 3, &[1, 0]), vec![4., 5., 6., 1., 2., 3.]);
        assert_eq!(
            permute_columns(&m, 3, &[2, 0, 1]),
            vec![2., 3., 1., 5., 6., 4.]
        );
    }

    #[test]
    fn structure_matched_controls_keep_the_heat_masks_shape_and_move_it() {
        // Heat: one contiguous band, rows 2..4 × columns 3..9 of a 10 × 20 W1 (12 of 200).
        let (rows, cols) = (10, 20);
        let mut heat = vec![0.0f32; rows * cols];
        for r in 2..4 {
            for c in 3..9 {
                heat[r * cols + c] = 1.0;
            }
        }
        let heat = Tensor::from_vec(heat, &[rows, cols]).unwrap();
        let w1 = Tensor::from_vec((0..200).map(|x| x as f32).collect(), &[rows, cols]).unwrap();
        let mut rng = StdRng::seed_from_u64(9);
        let frac = 12.0 / 200.0;
        let band = make_mask(MaskKind::Heat, &heat, &w1, frac, &mut rng).unwrap();
        assert_eq!(
            band,
            heat.data().iter().map(|&h| h > 0.0).collect::<Vec<_>>()
        );
        let shape = |m: &[bool]| {
            let rs: Vec<usize> = (0..rows)
                .filter(|&r| m[r * cols..(r + 1) * cols].iter().any(|&k| k))
                .collect();
            let per_row: Vec<usize> = rs
                .iter()
                .map(|&r| m[r * cols..(r + 1) * cols].iter().filter(|&&k| k).count())
                .collect();
            (rs.len(), per_row)
        };
        for kind in [
            MaskKind::HeatRolled,
            MaskKind::HeatRowsPermuted,
            MaskKind::HeatColumnsPermuted,
        ] {
            let m = make_mask(kind, &heat, &w1, frac, &mut rng).unwrap();
            assert_eq!(m.iter().filter(|&&k| k).count(), 12, "{kind:?}");
            assert_ne!(m, band, "{kind:?} moved the band");
            // Two rows of six entries each, wherever they went.
            assert_eq!(shape(&m), (2, vec![6, 6]), "{kind:?}");
        }
        // The rolled mask is the band cyclically shifted as a whole by some nonzero offset.
        let rolled = make_mask(MaskKind::HeatRolled, &heat, &w1, frac, &mut rng).unwrap();
        let as_f32 = |m: &[bool]| {
            m.iter()
                .map(|&k| f32::from(u8::from(k)))
                .collect::<Vec<_>>()
        };
        let shifted = (1..rows)
            .flat_map(|dr| (1..cols).map(move |dc| (dr, dc)))
            .any(|(dr, dc)| roll(&as_f32(&band), rows, cols, dr, dc) == as_f32(&rolled));
        assert!(shifted);
        // Magnitude: the 12 largest |w| are the last 12 entries.
        let mag = make_mask(MaskKind::Magnitude, &heat, &w1, frac, &mut rng).unwrap();
        assert!(mag[188..].iter().all(|&k| k) && !mag[..188].iter().any(|&k| k));
    }

    #[test]
    fn apply_mask_zeros_exactly_the_dropped_entries() {
        let mut w = Tensor::from_vec(vec![1., 2., 3.], &[3]).unwrap();
        apply_mask(&mut w, &[true, false, true]).unwrap();
        assert_eq!(w.data(), &[1., 0., 3.]);
        assert!(apply_mask(&mut w, &[true]).is_err());
    }
}
