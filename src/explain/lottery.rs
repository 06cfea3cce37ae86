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

use crate::data::{Batcher, Dataset};
use crate::error::{Error, Result};
use crate::nn::{Mlp, Sgd};
use crate::stats;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};

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
/// ([`stats::paired_summary`]).
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
            mlp.train_step(&mut sgd, batch.tensor, batch.labels, 0.0)?;
            apply_mask(&mut mlp.layers[0].weight, mask)?;
            step += 1;
        }
    }
    Ok(())
}

/// Per (percentage, kind): every draw's (untrained, fine-tuned) accuracy on one MLP.
type CaseResult = Vec<Vec<(f64, f64)>>;

/// Runs every mask of one MLP. The masks draw from one stream and the fine-tuning batches of
/// every mask come from a fresh copy of another (same batches for every mask: a paired
/// design); both are seeded by `(seed, case.seed)`.
fn run_case(
    case: &LotteryCase,
    kinds: &[MaskKind],
    config: &LotteryConfig,
    train: &Dataset,
    test: &Dataset,
    seed: u64,
) -> Result<CaseResult> {
    let w1 = &case.mlp.layers[0].weight;
    let base = seed ^ case.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let mut mask_rng = StdRng::seed_from_u64(base ^ 0x3A5C);
    let mut out = Vec::new();
    for &p in &config.percents {
        for &kind in kinds {
            let draws = if kind.is_drawn() {
                config.n_random.max(1)
            } else {
                1
            };
            let mut accs = Vec::with_capacity(draws);
            for _ in 0..draws {
                let heat = match (kind, &case.fresh_heat) {
                    (MaskKind::FreshEnnHeat, Some(f)) => f,
                    _ => &case.heat,
                };
                let mask = make_mask(kind, heat, w1, p / 100.0, &mut mask_rng)?;
                let mut mlp = case.mlp.clone();
                apply_mask(&mut mlp.layers[0].weight, &mask)?;
                let before = mlp.accuracy(&test.images, &test.labels)?;
                let mut batch_rng = StdRng::seed_from_u64(base ^ 0xF17E);
                finetune(&mut mlp, &mask, &config.finetune, train, &mut batch_rng)?;
                accs.push((before, mlp.accuracy(&test.images, &test.labels)?));
            }
            out.push(accs);
        }
    }
    Ok(out)
}

/// Checks the cases and percentages; returns the mask kinds to run (the fresh-ENN control
/// only when every case carries a fresh heat).
fn mask_kinds_for(cases: &[LotteryCase], config: &LotteryConfig) -> Result<Vec<MaskKind>> {
    if cases.is_empty() || config.percents.is_empty() {
        return Err(Error::invalid(
            "lottery_study",
            "needs at least one MLP and one percentage",
        ));
    }
    for c in cases {
        let w1 = &c.mlp.layers[0].weight;
        for h in std::iter::once(&c.heat).chain(&c.fresh_heat) {
            if h.shape() != w1.shape() {
                return Err(Error::shape(
                    "lottery_study",
                    format!("heat shaped like W1 {}", w1.shape()),
                    format!("{}", h.shape()),
                ));
            }
        }
    }
    let with_fresh = cases.iter().filter(|c| c.fresh_heat.is_some()).count();
    if with_fresh != 0 && with_fresh != cases.len() {
        return Err(Error::invalid(
            "lottery_study",
            format!(
                "{with_fresh} of {} cases carry a fresh ENN's heat: all or none",
                cases.len()
            ),
        ));
    }
    let mut kinds = MaskKind::ALL.to_vec();
    if with_fresh > 0 {
        kinds.push(MaskKind::FreshEnnHeat);
    }
    if let Some(&p) = config.percents.iter().find(|&&p| !(p > 0.0 && p <= 100.0)) {
        return Err(Error::invalid(
            "lottery_study",
            format!("percentage {p} is not in (0, 100]"),
        ));
    }
    Ok(kinds)
}

/// The data every case of one study shares.
struct StudyInputs<'a> {
    kinds: &'a [MaskKind],
    config: &'a LotteryConfig,
    train: &'a Dataset,
    test: &'a Dataset,
    seed: u64,
}

/// [`run_case`] on every case, in contiguous chunks on up to `jobs` threads (each case's result
/// depends only on its own seeds, so not on `jobs`).
fn run_cases(
    cases: &[LotteryCase],
    inputs: &StudyInputs,
    jobs: usize,
    on_case: &(dyn Fn(u64) + Sync),
) -> Result<Vec<CaseResult>> {
    let jobs = jobs.clamp(1, cases.len());
    let mut results: Vec<Option<Result<CaseResult>>> = (0..cases.len()).map(|_| None).collect();
    std::thread::scope(|s| {
        for (chunk_cases, chunk_out) in cases
            .chunks(cases.len().div_ceil(jobs))
            .zip(results.chunks_mut(cases.len().div_ceil(jobs)))
        {
            s.spawn(move || {
                for (c, o) in chunk_cases.iter().zip(chunk_out) {
                    let StudyInputs {
                        kinds,
                        config,
                        train,
                        test,
                        seed,
                    } = *inputs;
                    *o = Some(run_case(c, kinds, config, train, test, seed));
                    on_case(c.seed);
                }
            });
        }
    });
    results
        .into_iter()
        .map(|r| r.expect("every case ran"))
        .collect()
}

/// One row per (percentage, kind): mean and spread of the accuracies over the MLPs (over the
/// draws when there is one MLP), and each MLP's mean fine-tuned accuracy.
fn summarize_rows(
    per_case: &[CaseResult],
    kinds: &[MaskKind],
    percents: &[f64],
) -> Vec<LotteryRow> {
    let n_kinds = kinds.len();
    let mean_of = |draws: &[(f64, f64)], f: fn(&(f64, f64)) -> f64| {
        stats::mean(&draws.iter().map(f).collect::<Vec<_>>())
    };
    let mut rows = Vec::new();
    for (pi, &percent) in percents.iter().enumerate() {
        for (ki, &kind) in kinds.iter().enumerate() {
            let at = pi * n_kinds + ki;
            let (before, after): (Vec<f64>, Vec<f64>) = if per_case.len() == 1 {
                // One MLP: the spread is over the draws.
                per_case[0][at].iter().copied().unzip()
            } else {
                per_case
                    .iter()
                    .map(|c| (mean_of(&c[at], |x| x.0), mean_of(&c[at], |x| x.1)))
                    .unzip()
            };
            rows.push(LotteryRow {
                kind,
                percent,
                untrained: (stats::mean(&before), stats::std_dev(&before)),
                finetuned: (stats::mean(&after), stats::std_dev(&after)),
                per_mlp: per_case.iter().map(|c| mean_of(&c[at], |x| x.1)).collect(),
            });
        }
    }
    rows
}

/// Paired comparisons of the heat mask (kind 0) against every control at each percentage,
/// over the MLPs, with bootstrap CIs from `seed` and Holm-adjusted p-values.
fn compare_to_controls(
    rows: &[LotteryRow],
    kinds: &[MaskKind],
    percents: &[f64],
    seed: u64,
) -> Result<Vec<LotteryComparison>> {
    let n_kinds = kinds.len();
    let mut comparisons = Vec::new();
    let mut ci_rng = StdRng::seed_from_u64(seed ^ 0xB007);
    for (pi, &percent) in percents.iter().enumerate() {
        let heat = &rows[pi * n_kinds].per_mlp;
        for ki in 1..n_kinds {
            let other = &rows[pi * n_kinds + ki].per_mlp;
            let c = stats::paired_summary(heat, other, &mut ci_rng)?;
            comparisons.push(LotteryComparison {
                percent,
                control: kinds[ki],
                mean_diff: c.paired.mean_diff,
                sd_diff: c.paired.sd_diff,
                ci: (c.ci.lo, c.ci.hi),
                t: c.paired.t,
                p: c.paired.p_two_sided,
                p_holm: f64::NAN,
            });
        }
    }
    let adjusted = stats::holm(&comparisons.iter().map(|c| c.p).collect::<Vec<_>>())?;
    comparisons
        .iter_mut()
        .zip(adjusted)
        .for_each(|(c, p)| c.p_holm = p);
    Ok(comparisons)
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
