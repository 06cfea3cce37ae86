//! The protocol on each MLP: every mask, before and after a fixed fine-tuning budget with the
//! mask held, on up to `jobs` threads.

use super::masks::{apply_mask, make_mask, MaskKind};
use super::{FinetuneConfig, LotteryCase, LotteryConfig};
use crate::data::{Batcher, Dataset};
use crate::error::{Error, Result};
use crate::nn::{Mlp, Sgd};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

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
pub(super) type CaseResult = Vec<Vec<(f64, f64)>>;

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
pub(super) fn mask_kinds_for(
    cases: &[LotteryCase],
    config: &LotteryConfig,
) -> Result<Vec<MaskKind>> {
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
pub(super) struct StudyInputs<'a> {
    pub(super) kinds: &'a [MaskKind],
    pub(super) config: &'a LotteryConfig,
    pub(super) train: &'a Dataset,
    pub(super) test: &'a Dataset,
    pub(super) seed: u64,
}

/// [`run_case`] on every case, in contiguous chunks on up to `jobs` threads (each case's result
/// depends only on its own seeds, so not on `jobs`).
pub(super) fn run_cases(
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
