//! The study's variants of the Grad-Instructor step (`docs/study.md`, stages 2–4): init
//! variants, learning-rate schedules, evaluators (the ENN on W1 or on every weight matrix, its
//! sigmoid or its logit, and an analytic *oracle*), and the ways an evaluation enters the step
//! (additive, multiplicative, normalised, projected).
//!
//! With no evaluator and multiplier 1, [`variant_step`] is plain SGD with the expression of
//! `Sgd::step` (`w −= η g`), so a `bp` cell is bit-identical to the experiment's `bp` arm.
//!
//! ## The oracle evaluator
//!
//! For a set S of weight matrices, `E_o = −Σ_{l∈S} ln(‖W_l‖² / n_l)²` with `n_l = 2·out_l`,
//! the expected `‖W_l‖²` under He init (`out_l·in_l` entries of variance `2/in_l`). E_o ≤ 0,
//! with its maximum 0 exactly at He's per-layer scale. With `q_l = ‖W_l‖²`,
//! `∂E_o/∂W_l = −2 ln(q_l/n_l) · (1/q_l) · 2 W_l = −4 ln(q_l/n_l) W_l / q_l`.

use super::enn::EvaluationNet;
use super::weight_image::{weight_image_with, weight_images, WeightImageConfig};
use crate::autodiff::Tape;
use crate::error::{Error, Result};
use crate::nn::{Activation, Init, Mlp, Module, Sgd};
use crate::tensor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

/// How the target MLP is initialized (stage 2's init cells).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum InitVariant {
    /// PyTorch's default `U(±1/√fan_in)` on every layer (`bp`).
    Default,
    /// Kaiming normal `N(0, 2/fan_in)`, zero biases, on every layer (`he`).
    He,
    /// W1 and b1 from [`InitVariant::He`], every other layer from [`InitVariant::Default`].
    HeW1,
    /// W1 and b1 from [`InitVariant::Default`], every other layer from [`InitVariant::He`].
    HeRest,
    /// The default init times √6 (weights and biases): variance `2/fan_in`, He's.
    ScaledToHe,
}

impl InitVariant {
    /// The initial MLP for `seed`. `Default` and `He` draw from one RNG seeded by `seed`, as
    /// the experiment's arms do; the mixed variants take their layers from those two networks,
    /// so `HeW1` shares W1 with `He` and every other layer with `Default` (paired by seed).
    pub fn build(self, sizes: &[usize], activation: Activation, seed: u64) -> Result<Mlp> {
        let draw = |init| Mlp::new(sizes, activation, init, &mut StdRng::seed_from_u64(seed));
        match self {
            InitVariant::Default => draw(Init::PytorchDefault),
            InitVariant::He => draw(Init::He),
            InitVariant::ScaledToHe => draw(Init::PytorchDefaultScaled(6f32.sqrt())),
            InitVariant::HeW1 | InitVariant::HeRest => {
                let bp = draw(Init::PytorchDefault)?;
                let he = draw(Init::He)?;
                let (first, mut rest) = if self == InitVariant::HeW1 {
                    (he, bp)
                } else {
                    (bp, he)
                };
                rest.layers[0] = first.layers[0].clone();
                Ok(rest)
            }
        }
    }
}

/// A learning-rate multiplier over the optimizer steps of a run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum LrSchedule {
    /// The same multiplier at every step.
    Constant(f32),
    /// `1 + boost·(1 − t/steps)` for `t < steps`, then 1: an extra plain-gradient step that
    /// starts at `boost` × the loss step and decays linearly to zero (the warm-up boost).
    WarmupBoost {
        /// Extra step at step 0, as a multiple of the loss step.
        boost: f32,
        /// Steps over which the boost decays to zero.
        steps: usize,
    },
}

impl LrSchedule {
    /// The multiplier at optimizer step `t` (from 0).
    pub fn multiplier(&self, t: usize) -> f32 {
        match *self {
            LrSchedule::Constant(m) => m,
            LrSchedule::WarmupBoost { boost, steps } if t < steps => {
                1.0 + boost * (1.0 - t as f32 / steps as f32)
            }
            LrSchedule::WarmupBoost { .. } => 1.0,
        }
    }
}

/// Which weight matrices an evaluator reads and moves.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LayerSet {
    /// W1 only.
    First,
    /// Every weight matrix.
    All,
}

impl LayerSet {
    /// The layer indices of an MLP with `n` layers.
    pub fn indices(self, n: usize) -> std::ops::Range<usize> {
        match self {
            LayerSet::First => 0..n.min(1),
            LayerSet::All => 0..n,
        }
    }
}

/// Which ENN output the step ascends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum EnnOutputKind {
    /// The predicted accuracy σ(z) (the paper's reading).
    Sigmoid,
    /// The logit z (no saturation of σ′ = σ(1 − σ)).
    Logit,
}

/// The image configuration of weight matrix `layer` (`rows × cols`) for an ENN that reads
/// every layer: the base scale, raised for a small matrix so both sides of the image are ≥ 4;
/// the inert-column mask (input pixels) applies to W1 only.
pub fn layer_image_config(
    base: &WeightImageConfig,
    layer: usize,
    rows: usize,
    cols: usize,
) -> WeightImageConfig {
    let need = 4.0 / rows.min(cols).max(1) as f64;
    let mut cfg = base.clone();
    if layer > 0 {
        cfg.inert = None;
    }
    if need > cfg.resize_scale {
        // The tiny excess keeps ⌊side·scale⌋ from rounding down to 3.
        cfg.resize_scale = (need + 1e-9).min(1.0);
    }
    cfg
}

/// A learned evaluator: an ENN (with its image configuration), the output it ascends and the
/// matrices it sees.
#[derive(Clone, Debug)]
pub struct EnnEvaluator<'a> {
    /// The frozen ENN.
    pub enn: &'a EvaluationNet,
    /// σ(z) or z.
    pub output: EnnOutputKind,
    /// W1 only or every weight matrix (each its own image, E = the mean of the scores).
    pub layers: LayerSet,
}

/// Something whose gradient a study step ascends.
#[derive(Clone, Debug)]
pub enum Evaluator<'a> {
    /// The analytic oracle of He's scale on the given matrices (module docs).
    Oracle(LayerSet),
    /// A learned ENN.
    Enn(EnnEvaluator<'a>),
}

/// What an evaluator returns: its score (σ(z) for an ENN, even when the logit is ascended;
/// E_o for the oracle), the layer indices it moves, and `∂(ascended quantity)/∂W_l` for each.
#[derive(Clone, Debug)]
pub struct Evaluation {
    /// The evaluator's score.
    pub score: f32,
    /// Layer indices, ascending.
    pub layers: Vec<usize>,
    /// One gradient per entry of `layers`, shaped like that layer's weight.
    pub grads: Vec<Tensor>,
}

/// The ENN's image of weight matrix `layer` as an ENN reading `layers` sees it, without a
/// tape: what the value rule stores as a state. Matches the image [`Evaluator::evaluate`]
/// scores.
pub fn enn_image(
    w: &Tensor,
    base: &WeightImageConfig,
    layers: LayerSet,
    layer: usize,
) -> Result<Tensor> {
    weight_images(&[w], &image_config(base, layers, layer, w)?)
}

fn image_config(
    base: &WeightImageConfig,
    layers: LayerSet,
    layer: usize,
    w: &Tensor,
) -> Result<WeightImageConfig> {
    let (rows, cols) = w.matrix_dims("enn_image")?;
    Ok(match layers {
        LayerSet::First => base.clone(),
        LayerSet::All => layer_image_config(base, layer, rows, cols),
    })
}

/// `(σ(z), ∂root/∂w)` of one weight matrix through its image, ENN frozen.
fn enn_score_and_grad(
    enn: &EvaluationNet,
    w: &Tensor,
    cfg: &WeightImageConfig,
    output: EnnOutputKind,
) -> Result<(f32, Tensor)> {
    let mut tape = Tape::with_capacity(32);
    let vars = enn.bind(&mut tape, false);
    let wv = tape.param(w);
    let img = weight_image_with(&mut tape, wv, cfg)?;
    let out = enn.forward(&mut tape, &vars, img)?;
    let score = tape.item(out.score)?;
    let root = match output {
        EnnOutputKind::Sigmoid => out.score,
        EnnOutputKind::Logit => out.logit,
    };
    let mut g = tape.backward(root)?;
    let grad = g
        .take(wv)
        .ok_or_else(|| Error::invalid("enn_score_and_grad", "no gradient of the weight"))?;
    Ok((score, grad))
}

/// `Σ v²` in f64.
fn sq_norm(t: &Tensor) -> f64 {
    t.data().iter().map(|&v| v as f64 * v as f64).sum()
}

/// `Σ a·b` in f64.
fn dot(a: &Tensor, b: &Tensor) -> f64 {
    a.data()
        .iter()
        .zip(b.data())
        .map(|(&x, &y)| x as f64 * y as f64)
        .sum()
}

/// The oracle's value and gradient on the given layers (module docs).
pub fn oracle_evaluation(mlp: &Mlp, layers: LayerSet) -> Result<Evaluation> {
    let idx: Vec<usize> = layers.indices(mlp.layers.len()).collect();
    let mut score = 0.0f64;
    let mut grads = Vec::with_capacity(idx.len());
    for &l in &idx {
        let w = &mlp.layers[l].weight;
        let q = sq_norm(w);
        if !(q > 0.0 && q.is_finite()) {
            return Err(Error::invalid(
                "oracle_evaluation",
                format!("layer {l} has squared norm {q}"),
            ));
        }
        let n_he = 2.0 * mlp.layers[l].outputs() as f64;
        let log_ratio = (q / n_he).ln();
        score -= log_ratio * log_ratio;
        grads.push(w.mul_scalar((-4.0 * log_ratio / q) as f32));
    }
    Ok(Evaluation {
        score: score as f32,
        layers: idx,
        grads,
    })
}

impl Evaluator<'_> {
    /// The score alone (no gradient): what the multiplicative coupling needs.
    pub fn score(&self, mlp: &Mlp) -> Result<f32> {
        match self {
            Evaluator::Oracle(layers) => Ok(oracle_evaluation(mlp, *layers)?.score),
            Evaluator::Enn(e) => {
                let idx: Vec<usize> = e.layers.indices(mlp.layers.len()).collect();
                let mut score = 0.0f32;
                for &l in &idx {
                    let img = enn_image(&mlp.layers[l].weight, &e.enn.image, e.layers, l)?;
                    score += e.enn.score_images(&img)?[0] / idx.len() as f32;
                }
                Ok(score)
            }
        }
    }

    /// The evaluator's score of `mlp` and its gradient on the layers it moves.
    pub fn evaluate(&self, mlp: &Mlp) -> Result<Evaluation> {
        match self {
            Evaluator::Oracle(layers) => oracle_evaluation(mlp, *layers),
            Evaluator::Enn(e) => {
                let idx: Vec<usize> = e.layers.indices(mlp.layers.len()).collect();
                let n = idx.len() as f32;
                let mut score = 0.0f32;
                let mut grads = Vec::with_capacity(idx.len());
                for &l in &idx {
                    let w = &mlp.layers[l].weight;
                    let cfg = image_config(&e.enn.image, e.layers, l, w)?;
                    let (s, g) = enn_score_and_grad(e.enn, w, &cfg, e.output)?;
                    // E = mean_l E_l, so each layer's gradient carries the factor 1/L.
                    score += s / n;
                    grads.push(if idx.len() == 1 {
                        g
                    } else {
                        g.mul_scalar(1.0 / n)
                    });
                }
                Ok(Evaluation {
                    score,
                    layers: idx,
                    grads,
                })
            }
        }
    }
}

/// How an evaluation enters the step (g = ∂L/∂W, d = the evaluator's gradient, S its layers).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Coupling {
    /// `W_l ← W_l − η g_l + le d_l` on S (universal backprop).
    Additive {
        /// Evaluation rate λ_E.
        le: f32,
    },
    /// `θ ← θ − η (1 + le (1 − E)) g_θ` on every parameter (E the score).
    Multiplicative {
        /// Strength of the scaling.
        le: f32,
    },
    /// `W_S ← W_S − η g_S + f ‖η g_S‖ d_S/‖d_S‖` (norms over S jointly).
    Normalised {
        /// The ENN term's norm as a fraction of the loss step's.
        fraction: f32,
    },
    /// `W_S ← W_S − η g_S + le ⟨d_S, u⟩ u`, `u = −g_S/‖g_S‖` (the signed component along −g).
    Projected {
        /// Evaluation rate.
        le: f32,
    },
}

impl Coupling {
    /// The same coupling with its rate (le or fraction) replaced.
    pub fn with_rate(self, rate: f32) -> Coupling {
        match self {
            Coupling::Additive { .. } => Coupling::Additive { le: rate },
            Coupling::Multiplicative { .. } => Coupling::Multiplicative { le: rate },
            Coupling::Normalised { .. } => Coupling::Normalised { fraction: rate },
            Coupling::Projected { .. } => Coupling::Projected { le: rate },
        }
    }
}

/// What one study step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct VariantStats {
    /// Mini-batch loss before the step.
    pub loss: f32,
    /// The evaluator's score before the step (NaN without an evaluator).
    pub score: f32,
    /// `‖η m g_S‖` over the evaluator's layers (W1 without an evaluator).
    pub loss_term_norm: f32,
    /// Norm of the evaluation's extra step (0 without an evaluator).
    pub eval_term_norm: f32,
}

fn non_finite(what: impl Into<String>) -> Error {
    Error::NonFinite {
        run: "study-step".into(),
        step: 0,
        what: what.into(),
    }
}

/// The evaluation's extra step per layer of S (added to `w − η m g`), and its norm.
fn extra_step(
    coupling: Coupling,
    ev: &Evaluation,
    grads: &[Tensor],
    lr: f32,
) -> Result<(Vec<Tensor>, f64)> {
    let g_s: Vec<&Tensor> = ev.layers.iter().map(|&l| &grads[2 * l]).collect();
    let g_sq: f64 = g_s.iter().map(|g| sq_norm(g)).sum();
    let d_sq: f64 = ev.grads.iter().map(sq_norm).sum();
    let scaled = |c: f64, ts: &[&Tensor]| ts.iter().map(|t| t.mul_scalar(c as f32)).collect();
    let d_refs: Vec<&Tensor> = ev.grads.iter().collect();
    Ok(match coupling {
        Coupling::Additive { le } => (scaled(le as f64, &d_refs), le.abs() as f64 * d_sq.sqrt()),
        Coupling::Normalised { fraction } => {
            if d_sq == 0.0 {
                (scaled(0.0, &d_refs), 0.0)
            } else {
                let c = fraction as f64 * lr.abs() as f64 * g_sq.sqrt() / d_sq.sqrt();
                (scaled(c, &d_refs), c.abs() * d_sq.sqrt())
            }
        }
        Coupling::Projected { le } => {
            if g_sq == 0.0 {
                (scaled(0.0, &g_s), 0.0)
            } else {
                // le ⟨d, u⟩ u with u = −g/‖g‖  =  le (⟨d, g⟩ / ‖g‖²) g.
                let dg: f64 = ev.grads.iter().zip(&g_s).map(|(d, g)| dot(d, g)).sum();
                let c = le as f64 * dg / g_sq;
                (scaled(c, &g_s), c.abs() * g_sq.sqrt())
            }
        }
        Coupling::Multiplicative { .. } => {
            return Err(Error::invalid(
                "extra_step",
                "the multiplicative coupling has no additive term",
            ))
        }
    })
}

/// One study step on the batch `x` with `labels`: the loss gradient (plus an optional L1
/// penalty) at learning rate `lr · lr_mult`, and, with `eval`, the evaluation coupled as
/// `coupling` says. Both terms are computed at the pre-step weights. Nothing is modified when
/// a parameter, the loss, a gradient or the evaluation is not finite ([`Error::NonFinite`]).
pub fn variant_step(
    mlp: &mut Mlp,
    x: &Tensor,
    labels: &[u32],
    lr: f32,
    lr_mult: f32,
    l1: f32,
    eval: Option<(&Evaluator<'_>, Coupling)>,
) -> Result<VariantStats> {
    for (i, p) in mlp.params().into_iter().enumerate() {
        if !p.all_finite() {
            let kind = if i % 2 == 0 { "weight" } else { "bias" };
            return Err(non_finite(format!("layer {} {kind}", i / 2)));
        }
    }
    let (loss, grads) = mlp.loss_and_grads(x, labels, l1)?;
    if !loss.is_finite() || grads.iter().any(|g| !g.all_finite()) {
        let what = if loss.is_finite() { "gradient" } else { "loss" };
        return Err(non_finite(what));
    }
    let lr = lr * lr_mult;
    match eval {
        None => plain_step(mlp, &grads, lr, loss),
        Some((evaluator, Coupling::Multiplicative { le })) => {
            multiplicative_step(mlp, &grads, lr, loss, evaluator, le)
        }
        Some((evaluator, coupling)) => additive_step(mlp, &grads, lr, loss, evaluator, coupling),
    }
}

/// `w −= lr g` for every parameter (plain [`Sgd`]).
fn plain_step(mlp: &mut Mlp, grads: &[Tensor], lr: f32, loss: f32) -> Result<VariantStats> {
    Sgd::new(lr).step(mlp, grads)?;
    Ok(VariantStats {
        loss,
        score: f32::NAN,
        loss_term_norm: lr.abs() * sq_norm(&grads[0]).sqrt() as f32,
        eval_term_norm: 0.0,
    })
}

/// `w −= lr (1 + le (1 − E)) g`: the evaluation scales the loss step.
fn multiplicative_step(
    mlp: &mut Mlp,
    grads: &[Tensor],
    lr: f32,
    loss: f32,
    evaluator: &Evaluator<'_>,
    le: f32,
) -> Result<VariantStats> {
    let score = evaluator.score(mlp)?;
    if !score.is_finite() {
        return Err(non_finite("evaluator score"));
    }
    let m = 1.0 + le * (1.0 - score);
    Sgd::new(lr * m).step(mlp, grads)?;
    let all_sq: f64 = grads.iter().map(sq_norm).sum();
    Ok(VariantStats {
        loss,
        score,
        loss_term_norm: lr.abs() * all_sq.sqrt() as f32,
        eval_term_norm: (lr as f64 * (m - 1.0) as f64 * all_sq.sqrt()).abs() as f32,
    })
}

/// `w ← (w − lr g) + e` on the evaluated layers' weights, `e` the coupling's extra step
/// ([`extra_step`]); `w −= lr g` elsewhere.
fn additive_step(
    mlp: &mut Mlp,
    grads: &[Tensor],
    lr: f32,
    loss: f32,
    evaluator: &Evaluator<'_>,
    coupling: Coupling,
) -> Result<VariantStats> {
    let ev = evaluator.evaluate(mlp)?;
    if !ev.score.is_finite() || ev.grads.iter().any(|g| !g.all_finite()) {
        return Err(non_finite("evaluator gradient"));
    }
    let g_s_sq: f64 = ev.layers.iter().map(|&l| sq_norm(&grads[2 * l])).sum();
    let loss_term_norm = lr.abs() * g_s_sq.sqrt() as f32;
    let (extra, extra_norm) = extra_step(coupling, &ev, grads, lr)?;
    let mut params = mlp.params_mut();
    for (i, p) in params.iter_mut().enumerate() {
        let g = &grads[i];
        let add = (i % 2 == 0)
            .then(|| ev.layers.iter().position(|&l| l == i / 2))
            .flatten()
            .map(|k| &extra[k]);
        match add {
            // `(w − η g) + e`, one pass.
            Some(e) => p
                .data_mut()
                .iter_mut()
                .zip(g.data())
                .zip(e.data())
                .for_each(|((w, &gi), &ei)| *w = (*w - lr * gi) + ei),
            None => p
                .data_mut()
                .iter_mut()
                .zip(g.data())
                .for_each(|(w, &gi)| *w -= lr * gi),
        }
    }
    Ok(VariantStats {
        loss,
        score: ev.score,
        loss_term_norm,
        eval_term_norm: extra_norm as f32,
    })
}

/// The size of the evaluation's term at rate 1, relative to the loss term, at this state:
/// `‖d_S‖ / ‖η g_S‖` (additive), `|⟨d_S, u⟩| / ‖η g_S‖` (projected), `1 − E`
/// (multiplicative; its extra step is `le (1 − E)` loss steps) and 1 (normalised). The study
/// sets `rate = ρ / mean(ratio)` over calibration seeds so the term is ρ × the loss term.
pub fn step_ratio(
    mlp: &Mlp,
    x: &Tensor,
    labels: &[u32],
    lr: f32,
    evaluator: &Evaluator<'_>,
    coupling: Coupling,
) -> Result<f64> {
    if let Coupling::Normalised { .. } = coupling {
        return Ok(1.0);
    }
    if let Coupling::Multiplicative { .. } = coupling {
        return Ok(1.0 - evaluator.score(mlp)? as f64);
    }
    let ev = evaluator.evaluate(mlp)?;
    let (_, grads) = mlp.loss_and_grads(x, labels, 0.0)?;
    let g_sq: f64 = ev.layers.iter().map(|&l| sq_norm(&grads[2 * l])).sum();
    let loss_norm = lr.abs() as f64 * g_sq.sqrt();
    let (_, extra_norm) = extra_step(coupling.with_rate(1.0), &ev, &grads, lr)?;
    if !(loss_norm > 0.0 && extra_norm.is_finite()) {
        return Err(Error::invalid(
            "step_ratio",
            format!("loss-term norm {loss_norm}, evaluation-term norm {extra_norm}"),
        ));
    }
    Ok(extra_norm / loss_norm)
}
