//! The REINFORCE rule (`EnnRule::Reinforce`): policy gradient on the decisions' choices.
//!
//! `θ ← θ + η_E (R − b) Σ_t ∇θ log π(k_t)`, with π the policy of the
//! [episode](super::super::episode) (`softmax_k(E(cand_k)/τ)`), k_t the candidate sampled at
//! decision t and b the running mean of the previous episodes' rewards (the first episode is
//! its own baseline, so it makes no update). On the tape this is the minimization of the
//! surrogate `(R − b) · Σ_t CE(E(cand_t)/τ, k_t)` with Adam, since `CE = −log π(k_t)`. With
//! `normalize_advantage`, `R − b` is divided by the running standard deviation of R.
//!
//! What the rule can and cannot teach: the softmax ignores a shift common to the K
//! candidates, so REINFORCE shapes only *differences* of E between the candidates of one
//! decision and never ties E's level to R. The value rule, which regresses E onto R, is the
//! default for that reason; REINFORCE needs candidates that differ enough for their scores to
//! differ (hence multi-step branches and a small τ in the defaults).

use super::{concat_images, enn_step};
use crate::error::{Error, Result};
use crate::instructor::enn::EvaluationNet;
use crate::instructor::episode::Decision;
use crate::nn::Adam;
use crate::tensor::Tensor;

/// The running reward statistics behind the baseline: Σ R, Σ R² and n over the finished
/// episodes.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct RewardStats {
    /// Σ R.
    pub sum: f64,
    /// Σ R².
    pub sq: f64,
    /// Number of rewards summed.
    pub n: usize,
}

impl RewardStats {
    /// The baseline for reward `r`: the mean of the previous rewards, or `r` itself when
    /// there are none.
    pub fn baseline(&self, r: f64) -> f64 {
        if self.n == 0 {
            r
        } else {
            self.sum / self.n as f64
        }
    }

    /// `R − b`, divided by the previous rewards' standard deviation (floored at 1e-3) when
    /// `normalize` and at least two rewards are known.
    pub fn advantage(&self, r: f64, normalize: bool) -> f64 {
        let b = self.baseline(r);
        let mut advantage = r - b;
        if normalize && self.n >= 2 {
            let var = self.sq / self.n as f64 - b * b;
            advantage /= var.max(0.0).sqrt().max(1e-3);
        }
        advantage
    }

    /// Adds reward `r`.
    pub fn push(&mut self, r: f64) {
        self.sum += r;
        self.sq += r * r;
        self.n += 1;
    }
}

/// One REINFORCE step: minimizes `advantage · Σ_t CE(E(images_t)/τ, chosen_t)` with Adam.
/// `images` is (T·K, 1, h, w) (decision-major), `chosen` has T entries. Returns the surrogate.
pub fn reinforce_step(
    enn: &mut EvaluationNet,
    adam: &mut Adam,
    images: &Tensor,
    chosen: &[usize],
    k: usize,
    tau: f32,
    advantage: f32,
) -> Result<f32> {
    let t = chosen.len();
    let n = images.dims().first().copied().unwrap_or(0);
    if t == 0 || k == 0 || n != t * k || chosen.iter().any(|&c| c >= k) {
        return Err(Error::shape(
            "reinforce_step",
            format!("{} images = decisions x K with choices < K={k}", t * k),
            format!("{n} images, {t} decisions"),
        ));
    }
    if !(tau > 0.0 && tau.is_finite()) {
        return Err(Error::invalid(
            "reinforce_step",
            format!("tau {tau} must be > 0"),
        ));
    }
    let labels: Vec<u32> = chosen.iter().map(|&c| c as u32).collect();
    enn_step(enn, adam, images, "REINFORCE surrogate", |tape, out| {
        let scores = tape.reshape(out.score, &[t, k])?;
        let logits = tape.mul_scalar(scores, 1.0 / tau);
        let ce_mean = tape.softmax_cross_entropy(logits, &labels)?; // mean_t −log π(k_t)
        Ok(tape.mul_scalar(ce_mean, advantage * t as f32))
    })
}

/// The REINFORCE update after one episode: one [`reinforce_step`] over all its decisions
/// (none without decisions: the loss is then 0).
pub fn reinforce_update(
    enn: &mut EvaluationNet,
    adam: &mut Adam,
    decisions: &[Decision],
    k: usize,
    tau: f32,
    advantage: f64,
) -> Result<f32> {
    if decisions.is_empty() {
        return Ok(0.0);
    }
    let refs: Vec<&Tensor> = decisions.iter().map(|d| &d.images).collect();
    let images = concat_images(&refs)?;
    let chosen: Vec<usize> = decisions.iter().map(|d| d.chosen).collect();
    reinforce_step(enn, adam, &images, &chosen, k, tau, advantage as f32)
}
