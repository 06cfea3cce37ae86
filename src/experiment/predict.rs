//! The best-ENN study: train several ENNs, measure each one's downstream gain (Grad-Instructor
//! minus backprop test accuracy) and four cheap statistics of it, and correlate each
//! statistic with the gain (Spearman).

use super::arm::{Arm, RunResult, TrainConfig};
use super::config::ExperimentConfig;
use super::enn::{enn_split, train_one_enn};
use super::explain::{coverage_of, EnnCoverage};
use super::progress::Progress;
use super::run::coverage_seeds;
use super::runner::run_all;
use crate::data::Dataset;
use crate::error::Result;
use crate::instructor::{pixel_variance, EnnRule, EpisodeLog, EvaluationNet};
use crate::nn::{Init, Mlp, Sgd};
use crate::stats;
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// A cheap statistic of a trained ENN that might predict its downstream gain.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Statistic {
    /// Mean reward of the last quarter of its training episodes.
    FinalReward,
    /// Mean |E(s) − target(s)| over held-out states, the target being what the ENN is
    /// trained to predict (accuracy at the episode horizon, see `held_out_states`).
    PredictionError,
    /// Spearman correlation of E(s) with target(s) over held-out states.
    SpearmanStates,
    /// Mean ‖∂E/∂W1‖ on fresh default-init MLPs.
    GradNorm,
}

impl Statistic {
    /// Every statistic, in report order.
    pub const ALL: [Statistic; 4] = [
        Statistic::FinalReward,
        Statistic::PredictionError,
        Statistic::SpearmanStates,
        Statistic::GradNorm,
    ];

    /// The name used in tables and plots.
    pub fn name(self) -> &'static str {
        match self {
            Statistic::FinalReward => "final RL reward",
            Statistic::PredictionError => "validation prediction error",
            Statistic::SpearmanStates => "Spearman(E, accuracy) on held-out states",
            Statistic::GradNorm => "mean ||dE/dW1|| on fresh MLPs",
        }
    }

    /// The statistic's value for one candidate.
    pub fn of(self, c: &EnnCandidate) -> f64 {
        match self {
            Statistic::FinalReward => c.final_reward,
            Statistic::PredictionError => c.prediction_error,
            Statistic::SpearmanStates => c.spearman_states,
            Statistic::GradNorm => c.grad_norm,
        }
    }
}

/// One candidate ENN of the prediction study.
pub struct EnnCandidate {
    /// `<rule>-<seed>`.
    pub name: String,
    /// Mean reward of the last quarter of its training episodes.
    pub final_reward: f64,
    /// Mean |E(s) − acc(s)| over held-out states.
    pub prediction_error: f64,
    /// Spearman correlation of E(s) with acc(s) over held-out states.
    pub spearman_states: f64,
    /// Mean ‖∂E/∂W1‖ on fresh default-init MLPs.
    pub grad_norm: f64,
    /// Mean test accuracy of Grad-Instructor MLPs minus BP's, over the study's seeds.
    pub gain: f64,
    /// Coverage of W1 by its gradient.
    pub coverage: EnnCoverage,
}

/// The statistics and how each correlates with the gain.
pub struct Prediction {
    /// The trained ENNs.
    pub candidates: Vec<EnnCandidate>,
    /// Each statistic's Spearman correlation with the gain and its tests, in
    /// [`Statistic::ALL`] order.
    pub correlations: Vec<StatisticTest>,
    /// MLP seeds of the downstream runs.
    pub seeds: Vec<u64>,
    /// Episodes per ENN.
    pub episodes: usize,
}

/// How one statistic correlates with the downstream gain over the study's ENNs.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StatisticTest {
    /// Which statistic.
    pub statistic: Statistic,
    /// Spearman's rho of the statistic with the gain.
    pub spearman: f64,
    /// Two-sided permutation p-value of rho (exact up to 8 ENNs).
    pub p_permutation: f64,
    /// `p_permutation` after Holm's adjustment over the statistics tested.
    pub p_holm: f64,
}

/// Family-wise level at which a statistic counts as predicting the best ENN.
pub const PREDICTION_ALPHA: f64 = 0.05;

impl Prediction {
    /// The statistic with the largest finite |Spearman|, if any (descriptive only).
    pub fn best(&self) -> Option<StatisticTest> {
        self.correlations
            .iter()
            .copied()
            .filter(|c| c.spearman.is_finite())
            .max_by(|x, y| x.spearman.abs().total_cmp(&y.spearman.abs()))
    }

    /// The statistics whose Holm-adjusted p is below [`PREDICTION_ALPHA`]; empty means the
    /// study found no evidence that any statistic predicts the best ENN.
    pub fn significant(&self) -> Vec<StatisticTest> {
        self.correlations
            .iter()
            .copied()
            .filter(|c| c.p_holm < PREDICTION_ALPHA)
            .collect()
    }
}

/// Progress units [`predict_best_enn`] reports (ENN episodes and run epochs).
pub fn predict_units(cfg: &ExperimentConfig, results: &[RunResult]) -> u64 {
    let seeds = cfg.predict.seeds.max(1);
    let missing_bp = (0..seeds)
        .filter(|s| {
            !results
                .iter()
                .any(|r| r.record.arm == Arm::Bp && r.record.seed == cfg.seed_start + s)
        })
        .count() as u64;
    let epochs = cfg.mlp.epochs as u64;
    missing_bp * epochs + cfg.predict.enns as u64 * (cfg.predict_episodes() as u64 + seeds * epochs)
}

/// Held-out MLP states paired with the quantity the ENN is trained to predict.
///
/// The value rule regresses E(state) onto the reward of the episode the state was visited in:
/// the validation accuracy at the episode's end, `horizon` steps after its start. So a held-out
/// trajectory (init scale × default init, plain SGD) yields its state after `len` steps for
/// each training length, and the *target* of that state is the trajectory's accuracy after
/// `max(len, horizon)` steps (a state past the horizon is scored against its own accuracy,
/// the nearest thing the ENN was trained on). The MLP has the target's architecture.
fn held_out_states(
    cfg: &TrainConfig,
    scales: &[f32],
    lengths: &[usize],
    horizon: usize,
    tr: &Dataset,
    val: &Dataset,
) -> Result<Vec<(Tensor, f64)>> {
    let mut states = Vec::new();
    let mut rng = StdRng::seed_from_u64(0x5747E5);
    let mut points: Vec<usize> = lengths.iter().copied().chain([horizon]).collect();
    points.sort_unstable();
    points.dedup();
    for &scale in scales {
        let mut mlp = Mlp::new(
            &cfg.sizes,
            cfg.activation,
            Init::PytorchDefaultScaled(scale),
            &mut rng,
        )?;
        let mut sgd = Sgd::new(cfg.lr);
        let (mut done, mut acc_at, mut w1_at) = (0, Vec::new(), Vec::new());
        for &point in &points {
            while done < point {
                let idx: Vec<usize> = (0..cfg.batch).map(|_| rng.gen_range(0..tr.len())).collect();
                let b = tr.subset(&idx);
                let x = Tensor::from_vec(b.images, &[cfg.batch, tr.dim])?;
                mlp.train_step(&mut sgd, &x, &b.labels, 0.0)?;
                done += 1;
            }
            acc_at.push((point, mlp.accuracy(&val.images, &val.labels)?));
            if lengths.contains(&point) {
                w1_at.push((point, mlp.layers[0].weight.clone()));
            }
        }
        for (len, w1) in w1_at {
            let target_step = len.max(horizon);
            let target = acc_at
                .iter()
                .find(|(p, _)| *p == target_step)
                .map_or(f64::NAN, |(_, a)| *a);
            states.push((w1, target));
        }
    }
    Ok(states)
}

/// Mean ‖∂E/∂W1‖ over four fresh default-init MLPs (a fixed seed, the same for every ENN).
fn mean_grad_norm(enn: &EvaluationNet, cfg: &TrainConfig) -> Result<f64> {
    let mut rng = StdRng::seed_from_u64(0x9AD);
    let mut norms = Vec::new();
    for _ in 0..4 {
        let mlp = Mlp::new(&cfg.sizes, cfg.activation, Init::PytorchDefault, &mut rng)?;
        let (_, g) = enn.score_and_grad_w1(&mlp.layers[0].weight)?;
        norms.push(
            g.data()
                .iter()
                .map(|&x| (x as f64) * (x as f64))
                .sum::<f64>()
                .sqrt(),
        );
    }
    Ok(stats::mean(&norms))
}

/// Mean test accuracy of BP over `seeds`: runs of `results` where the main comparison ran them,
/// trained here otherwise.
fn bp_mean_accuracy(
    cfg: &ExperimentConfig,
    results: &[RunResult],
    seeds: &[u64],
    train: &Dataset,
    test: &Dataset,
    progress: &dyn Progress,
) -> Result<f64> {
    let mut bp_acc = Vec::new();
    let mut missing = Vec::new();
    for &s in seeds {
        match results
            .iter()
            .find(|r| r.record.arm == Arm::Bp && r.record.seed == s)
        {
            Some(r) => bp_acc.push(r.record.test_acc),
            None => missing.push((Arm::Bp, s)),
        }
    }
    let tc = cfg.train_config(train.dim);
    let bp_runs = run_all(&missing, &tc, cfg.jobs, train, test, None, progress)?;
    bp_acc.extend(bp_runs.iter().map(|r| r.record.test_acc));
    Ok(stats::mean(&bp_acc))
}

/// What every candidate ENN is measured against: held-out states with their accuracies, the
/// seeds of the downstream runs and BP's mean accuracy over them.
struct Yardstick<'a> {
    states: &'a [(Tensor, f64)],
    accs: &'a [f64],
    seeds: &'a [u64],
    bp_mean: f64,
    variance: &'a [f64],
}

/// Measures one trained ENN: its errors on the held-out states, its downstream gain over BP
/// (Grad-Instructor runs over the study's seeds) and its coverage.
fn measure_candidate(
    cfg: &ExperimentConfig,
    yard: &Yardstick,
    (name, enn, logs): (String, &EvaluationNet, &[EpisodeLog]),
    train: &Dataset,
    test: &Dataset,
    progress: &dyn Progress,
) -> Result<EnnCandidate> {
    let tc = cfg.train_config(train.dim);
    let scores: Vec<f64> = yard
        .states
        .iter()
        .map(|(w1, _)| enn.score(w1).map(f64::from))
        .collect::<Result<_>>()?;
    let errors: Vec<f64> = scores
        .iter()
        .zip(yard.accs)
        .map(|(e, y)| (e - y).abs())
        .collect();
    let spearman_states = stats::spearman(&scores, yard.accs)?;
    let gi_work: Vec<(Arm, u64)> = yard
        .seeds
        .iter()
        .map(|&s| (Arm::GradInstructor, s))
        .collect();
    let gi = run_all(&gi_work, &tc, cfg.jobs, train, test, Some(enn), progress)?;
    let gain =
        stats::mean(&gi.iter().map(|r| r.record.test_acc).collect::<Vec<_>>()) - yard.bp_mean;
    progress.note(&format!(
        "[predict-enn] {name}: gain {:+.2} pp, spearman(E, acc) {spearman_states:.3}",
        100.0 * gain
    ));
    let coverage = coverage_of(
        &name,
        enn,
        &tc,
        &coverage_seeds(cfg),
        yard.variance,
        cfg.enn.inert_threshold,
    )?;
    Ok(EnnCandidate {
        name,
        final_reward: last_quarter_reward(logs),
        prediction_error: stats::mean(&errors),
        spearman_states,
        grad_norm: mean_grad_norm(enn, &tc)?,
        gain,
        coverage,
    })
}

/// Spearman of each statistic with the gain, its permutation p-value (exact for ≤ 8 ENNs,
/// else 10,000 pairings seeded by `seed`), and Holm over the statistics whose p is defined.
fn correlate_with_gain(candidates: &[EnnCandidate], seed: u64) -> Result<Vec<StatisticTest>> {
    let gains: Vec<f64> = candidates.iter().map(|c| c.gain).collect();
    let mut rng = StdRng::seed_from_u64(seed);
    let mut tests = Vec::new();
    for &s in &Statistic::ALL {
        let xs: Vec<f64> = candidates.iter().map(|c| s.of(c)).collect();
        let t = stats::spearman_permutation_test(&xs, &gains, 10_000, &mut rng)?;
        tests.push((s, t));
    }
    let ps: Vec<f64> = tests.iter().map(|(_, t)| t.p_two_sided).collect();
    let defined: Vec<usize> = (0..ps.len()).filter(|&i| ps[i].is_finite()).collect();
    let mut p_holm = vec![f64::NAN; ps.len()];
    let adjusted = stats::holm(&defined.iter().map(|&i| ps[i]).collect::<Vec<_>>())?;
    for (&i, p) in defined.iter().zip(adjusted) {
        p_holm[i] = p;
    }
    Ok(tests
        .into_iter()
        .zip(p_holm)
        .map(|((statistic, t), p_holm)| StatisticTest {
            statistic,
            spearman: t.statistic,
            p_permutation: t.p_two_sided,
            p_holm,
        })
        .collect())
}

/// Trains `cfg.predict.enns` ENNs (one rule, the run's; seeds vary), measures each one's
/// downstream gain and the [`Statistic`]s, and correlates them (Spearman, permutation p,
/// Holm) with the gain.
/// BP runs of the study's seeds are reused from `results` when the main comparison ran them
/// (same configuration and data, and runs are deterministic per seed), trained otherwise.
pub fn predict_best_enn(
    cfg: &ExperimentConfig,
    results: &[RunResult],
    train: &Dataset,
    test: &Dataset,
    progress: &dyn Progress,
) -> Result<Prediction> {
    let tc = cfg.train_config(train.dim);
    let split = enn_split(train, cfg.enn.seed, cfg.enn.validation_images)?;
    // Held-out states use the second half of the validation split, the reward the first.
    let half = split.1.len() / 2;
    let val_states = split.1.subset(&(half..split.1.len()).collect::<Vec<_>>());
    let states = held_out_states(
        &tc,
        &cfg.predict.held_out_scales,
        &cfg.predict.held_out_lengths,
        cfg.reinforce_config().steps_per_episode,
        &split.0,
        &val_states,
    )?;
    let accs: Vec<f64> = states.iter().map(|s| s.1).collect();
    let seeds: Vec<u64> = (0..cfg.predict.seeds.max(1))
        .map(|s| cfg.seed_start + s)
        .collect();
    let mut rcfg = cfg.reinforce_config();
    rcfg.episodes = cfg.predict_episodes();
    let image = cfg.image_config(train)?;
    let variance = pixel_variance(&train.images, train.dim)?;
    let bp_mean = bp_mean_accuracy(cfg, results, &seeds, train, test, progress)?;
    let yard = Yardstick {
        states: &states,
        accs: &accs,
        seeds: &seeds,
        bp_mean,
        variance: &variance,
    };
    let mut candidates = Vec::new();
    // One thing varies: the ENN seed. The rule is the run's (`enn.rule`) for every ENN, so
    // the rule is not confounded with the candidate index.
    let rule_name = match rcfg.rule {
        EnnRule::Reinforce => "reinforce",
        EnnRule::Value => "value",
    };
    for m in 0..cfg.predict.enns {
        let seed = cfg.enn.seed + 1000 + m as u64;
        let name = format!("{rule_name}-{seed}");
        let (enn, logs) = train_one_enn(&rcfg, &image, &split, seed, &name, progress)?;
        let candidate = measure_candidate(cfg, &yard, (name, &enn, &logs), train, test, progress)?;
        candidates.push(candidate);
    }
    let correlations = correlate_with_gain(&candidates, cfg.enn.seed ^ 0x9E3D_1C7A)?;
    Ok(Prediction {
        candidates,
        correlations,
        seeds,
        episodes: rcfg.episodes,
    })
}

fn last_quarter_reward(logs: &[EpisodeLog]) -> f64 {
    let n = (logs.len() / 4).max(1).min(logs.len());
    stats::mean(
        &logs[logs.len() - n..]
            .iter()
            .map(|l| l.reward as f64)
            .collect::<Vec<_>>(),
    )
}
