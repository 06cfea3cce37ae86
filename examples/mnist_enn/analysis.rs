//! Grad-CAM pictures, the lottery-ticket test, and the "which ENN is best" prediction.

use crate::cli::Args;
use crate::{enn_split, run_all, train_one_enn, AnyError};
use grad_instructor::data::Dataset;
use grad_instructor::explain::enn_cam::enn_gradcam;
use grad_instructor::explain::{lottery_test, CamMethod, LotteryConfig, LotteryRow};
use grad_instructor::instructor::experiment::{initial_mlp, Arm, RunResult, TrainConfig};
use grad_instructor::instructor::{EnnRule, EpisodeLog, EvaluationNet};
use grad_instructor::nn::{Init, Mlp, Sgd};
use grad_instructor::report::png::{heatmap_png, Colormap, HeatmapOptions, ValueRange};
use grad_instructor::stats;
use grad_instructor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// One picture for the report.
pub struct Picture {
    pub caption: String,
    pub png: Vec<u8>,
}

/// What `explain` produced.
pub struct Explained {
    pub pictures: Vec<Picture>,
    /// (state name, ENN score, test accuracy) of the explained MLPs.
    pub states: Vec<(String, f32, f64)>,
    pub lottery: Vec<LotteryRow>,
    pub lottery_config: LotteryConfig,
}

fn heatmap(
    values: &Tensor,
    colormap: Colormap,
    range: ValueRange,
    scale: (usize, usize),
) -> Result<Vec<u8>, AnyError> {
    let (h, w) = values.matrix_dims("heatmap")?;
    let opts = HeatmapOptions {
        colormap,
        range,
        scale_x: scale.0,
        scale_y: scale.1,
        legend: true,
    };
    Ok(heatmap_png(values.data(), h, w, &opts)?)
}

/// Grad-CAM of the ENN on W1 of an untrained, a BP-trained and a Grad-Instructor-trained MLP
/// (the first seed), and the lottery test on the untrained one.
pub fn explain(
    enn: &EvaluationNet,
    a: &Args,
    results: &[RunResult],
    train: &Dataset,
    test: &Dataset,
) -> Result<Explained, AnyError> {
    let seed = a.seed_start;
    let untrained = initial_mlp(Arm::Bp, seed, &a.cfg)?;
    let mut states: Vec<(String, &Mlp)> =
        vec![("untrained (PyTorch-default init)".into(), &untrained)];
    for arm in [Arm::Bp, Arm::GradInstructor] {
        if let Some(r) = results.iter().find(|r| r.arm == arm && r.seed == seed) {
            states.push((format!("{}-trained", arm.name()), &r.mlp));
        }
    }
    let mut pictures = Vec::new();
    let mut scored = Vec::new();
    let mut untrained_heat = None;
    for (name, mlp) in &states {
        let w1 = &mlp.layers[0].weight;
        let cam = enn_gradcam(enn, w1, CamMethod::GradCam)?;
        let acc = mlp.accuracy(&test.images, &test.labels)?;
        scored.push((name.clone(), cam.score, acc));
        let (rows, cols) = w1.matrix_dims("W1")?;
        let tall = if rows < 200 { 2 } else { 1 };
        pictures.push(Picture {
            caption: format!("W1 of the {name} MLP ({rows}x{cols}, blue negative / red positive, symmetric range ±{:.3}); ENN score {:.3}, test accuracy {:.2}%", max_abs(w1), cam.score, 100.0 * acc),
            png: heatmap(w1, Colormap::BlueWhiteRed, ValueRange::SymmetricAroundZero, (1, tall))?,
        });
        pictures.push(Picture {
            caption: format!("Grad-CAM of the ENN on that W1, mapped to {rows}x{cols} through the image's adjoint: heat only on the entries the ENN reads (viridis, 0 = no evidence, 1 = most)"),
            png: heatmap(&cam.heat, Colormap::Viridis, ValueRange::Fixed { min: 0.0, max: 1.0 }, (1, tall))?,
        });
        let side = (cols as f64).sqrt() as usize;
        if side * side == cols {
            let per_pixel = cam.heat_per_input.clone().reshape(&[side, side])?;
            pictures.push(Picture {
                caption: format!("Grad-CAM per input pixel ({side}x{side}: sum over hidden units of the map above) — where in the digit image the ENN's evidence lies"),
                png: heatmap(&per_pixel, Colormap::Viridis, ValueRange::Fixed { min: 0.0, max: 1.0 }, (8, 8))?,
            });
        }
        if untrained_heat.is_none() {
            untrained_heat = Some(cam.heat.clone());
        }
    }
    let mut lottery_config = LotteryConfig::default();
    if a.quick {
        lottery_config.percents = vec![10.0, 50.0];
        lottery_config.n_random = 2;
        lottery_config.finetune.steps = 50;
    }
    lottery_config.finetune.lr = a.cfg.lr;
    lottery_config.finetune.batch = a.cfg.batch;
    let heat = untrained_heat.expect("the untrained state is always explained");
    let lottery = lottery_test(
        &untrained,
        &heat,
        &lottery_config,
        train,
        test,
        &mut StdRng::seed_from_u64(seed ^ 0x1077),
    )?;
    Ok(Explained {
        pictures,
        states: scored,
        lottery,
        lottery_config,
    })
}

fn max_abs(t: &Tensor) -> f32 {
    t.data().iter().fold(0.0f32, |m, x| m.max(x.abs()))
}

/// One candidate ENN of the prediction study.
pub struct EnnCandidate {
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
}

/// The statistics and which one predicts the downstream gain best.
pub struct Prediction {
    pub candidates: Vec<EnnCandidate>,
    /// (statistic name, Spearman correlation with the gain).
    pub correlations: Vec<(String, f64)>,
    pub seeds: Vec<u64>,
    pub episodes: usize,
}

/// Held-out MLP states with known validation accuracy: init scales × training lengths.
fn held_out_states(
    cfg: &TrainConfig,
    tr: &Dataset,
    val: &Dataset,
    quick: bool,
) -> Result<Vec<(Tensor, f64)>, AnyError> {
    let mut states = Vec::new();
    let mut rng = StdRng::seed_from_u64(0x5747E5);
    let scales: &[f32] = if quick {
        &[0.5, 2.0]
    } else {
        &[0.5, 1.0, 2.0, 3.0]
    };
    let lengths: &[usize] = if quick { &[0, 30] } else { &[0, 50, 200, 600] };
    let sizes = [cfg.sizes[0], cfg.sizes[1], *cfg.sizes.last().unwrap()];
    for &scale in scales {
        let mut mlp = Mlp::new(
            &sizes,
            cfg.activation,
            Init::PytorchDefaultScaled(scale),
            &mut rng,
        )?;
        let mut sgd = Sgd::new(cfg.lr);
        let mut done = 0;
        for &len in lengths {
            while done < len {
                let idx: Vec<usize> = (0..cfg.batch).map(|_| rng.gen_range(0..tr.len())).collect();
                let b = tr.subset(&idx);
                let x = Tensor::from_vec(b.images, &[cfg.batch, tr.dim])?;
                let (_, g) = mlp.loss_and_grads(&x, &b.labels, 0.0)?;
                let refs: Vec<&Tensor> = g.iter().collect();
                sgd.step(&mut mlp.params_mut(), &refs)?;
                done += 1;
            }
            states.push((
                mlp.layers[0].weight.clone(),
                mlp.accuracy(&val.images, &val.labels)?,
            ));
        }
    }
    Ok(states)
}

/// Trains `a.predict_enn` ENNs (seeds × {reinforce, value}), measures each one's downstream
/// gain and four cheap statistics, and correlates them (Spearman) with the gain.
pub fn predict_best_enn(
    a: &Args,
    results: &[RunResult],
    train: &Dataset,
    test: &Dataset,
) -> Result<Prediction, AnyError> {
    let split = enn_split(train, a.enn_seed, a.quick)?;
    // Held-out states use the second half of the validation split, the reward the first.
    let half = split.1.len() / 2;
    let val_states = split.1.subset(&(half..split.1.len()).collect::<Vec<_>>());
    let states = held_out_states(&a.cfg, &split.0, &val_states, a.quick)?;
    let accs: Vec<f64> = states.iter().map(|s| s.1).collect();
    let seeds: Vec<u64> = (0..a.predict_seeds.max(1))
        .map(|s| a.seed_start + s)
        .collect();
    let mut cfg = a.enn.clone();
    cfg.episodes = a.predict_episodes;
    // BP runs of these seeds: reused from the main comparison when it ran them (same
    // configuration and data, and runs are deterministic per seed), trained otherwise.
    let mut bp_acc = Vec::new();
    let mut missing = Vec::new();
    for &s in &seeds {
        match results.iter().find(|r| r.arm == Arm::Bp && r.seed == s) {
            Some(r) => bp_acc.push(r.test_acc),
            None => missing.push((Arm::Bp, s)),
        }
    }
    bp_acc.extend(
        run_all(&missing, &a.cfg, a.jobs, train, test, None)?
            .iter()
            .map(|r| r.test_acc),
    );
    let bp_mean = stats::mean(&bp_acc);
    let mut candidates = Vec::new();
    for m in 0..a.predict_enn {
        let rule = if m % 2 == 0 {
            EnnRule::Reinforce
        } else {
            EnnRule::Value
        };
        let seed = a.enn_seed + 1000 + (m / 2) as u64;
        cfg.rule = rule;
        let name = format!(
            "{}-{}",
            if rule == EnnRule::Reinforce {
                "reinforce"
            } else {
                "value"
            },
            seed
        );
        let (enn, logs) = train_one_enn(&cfg, &split, seed, &name)?;
        let scores: Vec<f64> = states
            .iter()
            .map(|(w1, _)| enn.score(w1).map(f64::from))
            .collect::<Result<_, _>>()?;
        let prediction_error = stats::mean(
            &scores
                .iter()
                .zip(&accs)
                .map(|(e, y)| (e - y).abs())
                .collect::<Vec<_>>(),
        );
        let spearman_states = stats::spearman(&scores, &accs)?;
        let mut rng = StdRng::seed_from_u64(0x9AD);
        let mut norms = Vec::new();
        for _ in 0..4 {
            let mlp = Mlp::new(
                &a.cfg.sizes,
                a.cfg.activation,
                Init::PytorchDefault,
                &mut rng,
            )?;
            let (_, g) = enn.score_and_grad_w1(&mlp.layers[0].weight)?;
            norms.push(
                g.data()
                    .iter()
                    .map(|&x| (x as f64) * (x as f64))
                    .sum::<f64>()
                    .sqrt(),
            );
        }
        let gi_work: Vec<(Arm, u64)> = seeds.iter().map(|&s| (Arm::GradInstructor, s)).collect();
        let gi = run_all(&gi_work, &a.cfg, a.jobs, train, test, Some(&enn))?;
        let gain = stats::mean(&gi.iter().map(|r| r.test_acc).collect::<Vec<_>>()) - bp_mean;
        eprintln!(
            "[predict-enn] {name}: gain {:+.2} pp, spearman(E, acc) {spearman_states:.3}",
            100.0 * gain
        );
        candidates.push(EnnCandidate {
            name,
            final_reward: last_quarter_reward(&logs),
            prediction_error,
            spearman_states,
            grad_norm: stats::mean(&norms),
            gain,
        });
    }
    let gains: Vec<f64> = candidates.iter().map(|c| c.gain).collect();
    let stat = |f: fn(&EnnCandidate) -> f64| -> Result<f64, AnyError> {
        Ok(stats::spearman(
            &candidates.iter().map(f).collect::<Vec<_>>(),
            &gains,
        )?)
    };
    let correlations = vec![
        ("final RL reward".to_string(), stat(|c| c.final_reward)?),
        (
            "validation prediction error".to_string(),
            stat(|c| c.prediction_error)?,
        ),
        (
            "Spearman(E, accuracy) on held-out states".to_string(),
            stat(|c| c.spearman_states)?,
        ),
        (
            "mean ||dE/dW1|| on fresh MLPs".to_string(),
            stat(|c| c.grad_norm)?,
        ),
    ];
    Ok(Prediction {
        candidates,
        correlations,
        seeds,
        episodes: cfg.episodes,
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
