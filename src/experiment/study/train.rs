//! One (cell, seed) run, the evaluator-rate calibration, and the ENN recipes.

use super::design::{Cell, CellEval, Recipe, Schedule};
use super::rows::Row;
use super::StudyConfig;
use crate::data::{Batcher, Dataset};
use crate::error::{Error, Result};
use crate::instructor::value_enn::{train_value_enn, ValueEnnSpec};
use crate::instructor::variants::{
    step_ratio, variant_step, Coupling, EnnEvaluator, Evaluator, InitVariant, LayerSet, LrSchedule,
};
use crate::instructor::weight_image::{ImageMode, InertColumns, DEFAULT_INERT_THRESHOLD};
use crate::instructor::{train_enn, EnnTrainingConfig, EvaluationNet, TrainRng};
use crate::nn::Activation;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::path::Path;
use std::time::Instant;

/// Layer widths of a depth: 784-width×depth-10.
pub fn sizes(cfg: &StudyConfig, input: usize, depth: usize) -> Vec<usize> {
    let mut s = vec![input];
    s.extend(std::iter::repeat_n(cfg.width, depth));
    s.push(10);
    s
}

/// The data-order RNG's seed for an MLP seed (the experiment's arms use the same stream).
pub fn shuffle_seed(seed: u64) -> u64 {
    seed ^ 0x5DEE_CE66_D1CE_5EED
}

/// The evaluator and its coupling (rate 1) of a cell, given its ENN.
pub fn evaluator_of<'a>(
    eval: &CellEval,
    enn: Option<&'a EvaluationNet>,
) -> Result<Option<(Evaluator<'a>, Coupling)>> {
    Ok(match *eval {
        CellEval::None => None,
        CellEval::Oracle { layers, .. } => {
            Some((Evaluator::Oracle(layers), Coupling::Additive { le: 1.0 }))
        }
        CellEval::Enn { variant, .. } => {
            let enn =
                enn.ok_or_else(|| Error::invalid("study run", "an ENN cell needs its ENN"))?;
            Some((
                Evaluator::Enn(EnnEvaluator {
                    enn,
                    output: variant.output(),
                    layers: variant.layers(),
                }),
                variant.coupling(),
            ))
        }
    })
}

/// The rate that makes the evaluator's term ρ × the loss term at step 0: `ρ / mean ratio`
/// over the calibration seeds (default init, each seed's first mini-batch on `train`).
pub fn calibrate_rate(
    cfg: &StudyConfig,
    cell: &Cell,
    enn: Option<&EvaluationNet>,
    train: &Dataset,
) -> Result<f64> {
    let Some((evaluator, coupling)) = evaluator_of(&cell.eval, enn)? else {
        return Ok(f64::NAN);
    };
    let rho = cell.rho().unwrap_or(0.0) as f64;
    if let Coupling::Normalised { .. } = coupling {
        return Ok(rho);
    }
    let sizes = sizes(cfg, train.dim, cell.depth);
    let mut sum = 0.0;
    for &s in &cfg.ratio_seeds {
        let seed = cfg.seed_of(s);
        let mlp = InitVariant::Default.build(&sizes, Activation::Relu, seed)?;
        let mut batcher = Batcher::new(train.len(), cfg.batch, train.dim);
        batcher.shuffle(&mut StdRng::seed_from_u64(shuffle_seed(seed)));
        let b = batcher
            .next_batch(train)
            .ok_or_else(|| Error::invalid("calibrate_rate", "empty training set"))?;
        sum += step_ratio(&mlp, b.tensor, b.labels, cfg.lr, &evaluator, coupling)?;
    }
    let mean = sum / cfg.ratio_seeds.len().max(1) as f64;
    if !(mean > 0.0 && mean.is_finite()) {
        return Err(Error::invalid(
            "calibrate_rate",
            format!("cell {}: step-0 ratio {mean}", cell.name),
        ));
    }
    Ok(rho / mean)
}

/// Trains one run of `cell` from MLP seed `seed` on `train` and measures it on `eval`
/// (and on `train` when `train_acc`).
#[allow(clippy::too_many_arguments)]
pub fn run_cell(
    cfg: &StudyConfig,
    stage: u8,
    cell: &Cell,
    seed: u64,
    enn: Option<(u64, &EvaluationNet)>,
    rate: f64,
    train: &Dataset,
    eval: &Dataset,
    train_acc: bool,
) -> Result<Row> {
    let started = Instant::now();
    let sizes = sizes(cfg, train.dim, cell.depth);
    let mut mlp = cell.init.build(&sizes, Activation::Relu, seed)?;
    let mut order = StdRng::seed_from_u64(shuffle_seed(seed));
    let mut batcher = Batcher::new(train.len(), cfg.batch, train.dim);
    let schedule = match cell.schedule {
        Schedule::Constant(m) => LrSchedule::Constant(m),
        Schedule::WarmupFirstEpoch { boost } => LrSchedule::WarmupBoost {
            boost,
            steps: batcher.batches_per_epoch(),
        },
    };
    let ev = evaluator_of(&cell.eval, enn.map(|e| e.1))?;
    let coupled = ev.as_ref().map(|(e, c)| (e, c.with_rate(rate as f32)));
    let mut curve = Vec::new();
    let mut step = 0usize;
    for _ in 0..cell.epochs {
        batcher.shuffle(&mut order);
        while let Some(b) = batcher.next_batch(train) {
            variant_step(
                &mut mlp,
                b.tensor,
                b.labels,
                cfg.lr,
                schedule.multiplier(step),
                cell.l1,
                coupled,
            )
            .map_err(|e| match e {
                Error::NonFinite { what, .. } => Error::NonFinite {
                    run: format!("study stage {stage} cell {} seed {seed}", cell.name),
                    step,
                    what,
                },
                e => e,
            })?;
            step += 1;
        }
        if cell.curve {
            curve.push(mlp.accuracy(&eval.images, &eval.labels)?);
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let acc = match curve.last() {
        Some(&a) => a,
        None => mlp.accuracy(&eval.images, &eval.labels)?,
    };
    let train_acc = if train_acc {
        mlp.accuracy(&train.images, &train.labels)?
    } else {
        f64::NAN
    };
    Ok(Row {
        stage,
        cell: cell.name.clone(),
        seed,
        enn_seed: enn.map(|e| e.0),
        rate,
        acc,
        train_acc,
        curve,
        steps: step,
        secs,
    })
}

/// The file name of an ENN: recipe, regime and seed (`enns/<key>.safetensors`).
pub fn enn_key(recipe: Recipe, rho: &[f32], depth: usize, stage: u8, enn_seed: u64) -> String {
    let r = match recipe {
        Recipe::Ref => "ref".to_string(),
        Recipe::OnPolicy(i) => format!("onpolicy-rho{}", rho[i as usize]),
        Recipe::AllLayers => "all_layers".to_string(),
    };
    // Stage 4's ENNs train on the 60,000 images, stages 1–3's on S_train.
    let data = if stage == 4 { "full" } else { "strain" };
    format!("{r}-d{depth}-{data}-s{enn_seed}")
}

/// The recipe of a value-rule ENN (on-policy or all layers) for the regime and data.
pub fn value_spec(
    cfg: &StudyConfig,
    recipe: Recipe,
    sizes: &[usize],
    episode_train: &Dataset,
) -> Result<ValueEnnSpec> {
    let layers = if recipe == Recipe::AllLayers {
        LayerSet::All
    } else {
        LayerSet::First
    };
    let mut spec = ValueEnnSpec::study(sizes, layers);
    spec.lr = cfg.lr;
    spec.batch = cfg.batch;
    spec.episodes = cfg.value_episodes;
    spec.steps = cfg.value_steps;
    spec.record_every = cfg.value_record_every;
    spec.lookahead = cfg.value_lookahead;
    spec.reward_limit = cfg.value_reward_limit;
    match recipe {
        Recipe::OnPolicy(i) => {
            spec.on_policy_rho = Some(cfg.rho[i as usize]);
            spec.image.mode = ImageMode::Area;
            spec.image.inert = Some(InertColumns::from_data(
                &episode_train.images,
                episode_train.dim,
                DEFAULT_INERT_THRESHOLD,
            )?);
        }
        Recipe::AllLayers => spec.init_scale_range = (0.5, 3.0),
        Recipe::Ref => {
            return Err(Error::invalid(
                "value_spec",
                "ref is not a value-rule recipe",
            ));
        }
    }
    Ok(spec)
}

/// A description of a recipe, stored in the ENN's file and compared on reload.
pub fn recipe_text(cfg: &StudyConfig, recipe: Recipe, sizes: &[usize], enn_seed: u64) -> String {
    match recipe {
        Recipe::Ref => format!(
            "ref sizes={sizes:?} episodes={} steps={} seed={enn_seed}",
            cfg.ref_episodes, cfg.ref_steps
        ),
        _ => format!(
            "{recipe:?} sizes={sizes:?} episodes={} steps={} record={} lookahead={} reward={} \
             rho={:?} seed={enn_seed}",
            cfg.value_episodes,
            cfg.value_steps,
            cfg.value_record_every,
            cfg.value_lookahead,
            cfg.value_reward_limit,
            cfg.rho
        ),
    }
}

/// Trains (or loads from `path`) the ENN of `recipe` with `enn_seed` on the run's training
/// set `train` (episodes on all but `enn_reward_images` of it, rewards on those).
pub fn ensure_enn(
    cfg: &StudyConfig,
    recipe: Recipe,
    sizes: &[usize],
    enn_seed: u64,
    train: &Dataset,
    path: &Path,
    mut on_episode: impl FnMut(),
) -> Result<EvaluationNet> {
    let text = recipe_text(cfg, recipe, sizes, enn_seed);
    if path.exists() {
        let weights = crate::io::safetensors::load(path)?;
        if weights.meta("recipe") != Some(text.as_str()) {
            return Err(Error::invalid(
                "study ENN",
                format!(
                    "{} was trained by another recipe ({:?}, expected {text:?}); remove it",
                    path.display(),
                    weights.meta("recipe")
                ),
            ));
        }
        return EvaluationNet::load(path);
    }
    let (episodes, reward) = train.split_validation(
        cfg.enn_reward_images.min(train.len() / 2),
        &mut StdRng::seed_from_u64(enn_seed ^ 0xE1A1),
    )?;
    let mut rng = TrainRng::seed_from_u64(enn_seed);
    let mut enn = EvaluationNet::new(&mut rng)?;
    match recipe {
        Recipe::Ref => {
            // The crate's default recipe, episodes on the target's architecture.
            let rc = EnnTrainingConfig {
                episodes: cfg.ref_episodes,
                steps_per_episode: cfg.ref_steps,
                batch: cfg.batch,
                hidden: sizes[1..sizes.len() - 1].to_vec(),
                ..EnnTrainingConfig::default()
            };
            train_enn(&mut enn, &rc, &episodes, &reward, &mut rng, |_| {
                on_episode()
            })?;
        }
        _ => {
            let spec = value_spec(cfg, recipe, sizes, &episodes)?;
            train_value_enn(&mut enn, &spec, &episodes, &reward, &mut rng, |_| {
                on_episode()
            })?;
        }
    }
    enn.save(path, &[("recipe", &text)])?;
    Ok(enn)
}

/// Episodes of a recipe (for progress totals).
pub fn recipe_episodes(cfg: &StudyConfig, recipe: Recipe) -> usize {
    match recipe {
        Recipe::Ref => cfg.ref_episodes,
        _ => cfg.value_episodes,
    }
}
