//! Universal backpropagation: one SGD step of the target MLP in which the first weight matrix
//! also climbs the frozen ENN's predicted accuracy.
//!
//! ```text
//! W1 ← W1 − η·m·∂L/∂W1 + λ_E·∂E(image(W1))/∂W1
//! θ  ← θ  − η·m·∂L/∂θ        for every other MLP parameter θ
//! ```
//!
//! with L the mini-batch cross-entropy (plus an optional L1 penalty), η the learning rate, m a
//! per-step multiplier (the REINFORCE candidates use it), E the ENN's score and λ_E the
//! evaluation rate `le`. The sign is `+` because E is a predicted *accuracy*: the step ascends
//! it. Both terms are evaluated at the same (pre-step) W1. The ENN is never updated here.
//!
//! ## Choosing `le` (measured, `cargo test --release --test instructor -- --ignored --nocapture
//! universal_norm_ratio`)
//!
//! For a PyTorch-default-init 784-100-10 ReLU MLP, one batch of 64, η = 0.01, m = 1, the
//! loss term ‖η ∂L/∂W1‖ and the ENN term ‖∂E/∂W1‖ (λ_E = 1) at step 0 were measured for a
//! fresh ENN and for an ENN trained by [`train_enn`](super::trainer::train_enn); see
//! [`DEFAULT_LE`] for the figures and the choice.

//!
//! ## Cost
//!
//! A universal step is a plain step plus one ENN forward and one backward to the weight image,
//! then the image map's adjoint to W1, the finiteness checks of the parameters and gradients,
//! and the update. Its overhead is measured by
//! `GI_NUM_THREADS=1 cargo test --release --test instructor -- --ignored --nocapture
//! universal_step_overhead` (784-100-10, batch 64, medians of interleaved steps); the figures,
//! per machine, are in docs/measurements.md ("Universal step overhead"). The ENN's share goes
//! to the second convolution's forward and input-gradient products, then the first
//! convolution, max-pool and ReLU. The bilinear image reads only a block of W1 (the rows ×
//! columns of the resize's footprint, ≤ 9 % of it), so the ENN's gradient is a
//! [`W1Gradient`] that is computed, scanned and added on that block alone; of the rest of W1
//! only one read remains, the search for −0 entries that the dense add would turn into +0.
//! The area and block-bilinear images read all of W1 and take the dense path. The frozen ENN
//! runs without a tape (`instructor/frozen.rs`: no parameter gradients, no per-node
//! allocations or zero fills, the ReLUs and pools' adjoints folded into their neighbours).

use super::enn::EvaluationNet;
use super::weight_image::W1Gradient;
use crate::error::{Error, Result};
use crate::kernels::scan::{sum_squares_lanes, LANES};
use crate::nn::{Mlp, Module, Sgd};
use crate::tensor::Tensor;

/// Default evaluation rate λ_E.
///
/// Measured at step 0 on MNIST (784-100-10 ReLU MLP, PyTorch default init, one batch of 64,
/// η = 0.01, m = 1, λ_E = 1; the fresh row by `cargo test --release --test instructor --
/// --ignored --nocapture universal_norm_ratio`, the trained rows after the ENN-training runs
/// of the reconstruction report, 100 episodes each, MLP seed 100):
///
/// | ENN | ‖η ∂L/∂W1‖ | ‖∂E/∂W1‖ | ratio at λ_E = 1 |
/// |---|---|---|---|
/// | fresh (5 MLP seeds) | 5.3e-3 … 6.5e-3 | 1.20e-2 … 1.22e-2 | 1.8 … 2.3 |
/// | REINFORCE-trained (10-step branches, τ = 1e-4) | 5.7e-3 | 5.0e-2 | 8.7 |
/// | value-trained (the default rule) | 5.7e-3 | 1.0e-1 … 1.2e-1 | 18 … 22 |
/// | value-trained, antialiased image | 5.7e-3 | 5.2e-2 | 9.1 |
///
/// The ENN that universal backprop actually uses is a trained one, so λ_E = 0.01 puts its
/// term at 0.09–0.22× the loss term across the trained ENNs (the 0.1–1× band we aimed for,
/// at its low end); a fresh ENN's term is then only 0.02×. A larger λ_E measurably hurt: with the value-trained
/// ENN, λ_E = 0.05 (0.9×) lowered the validation accuracy after 200 steps by 0.9 ± 0.8 points
/// against λ_E = 0 on 20 paired episodes, λ_E = 0.01 by 0.3 ± 0.5 points.
pub const DEFAULT_LE: f32 = 0.01;

/// Hyperparameters of a universal-backpropagation step.
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct UniversalConfig {
    /// Learning rate η of the loss term.
    pub lr: f32,
    /// Evaluation rate λ_E of the ENN term (0 makes the step plain SGD).
    pub le: f32,
    /// L1 penalty λ on the MLP's weight matrices (0 disables).
    pub l1: f32,
}

impl Default for UniversalConfig {
    /// η = 0.01 (the REINFORCE episodes' rate), λ_E = [`DEFAULT_LE`], no L1.
    fn default() -> Self {
        UniversalConfig {
            lr: 0.01,
            le: DEFAULT_LE,
            l1: 0.0,
        }
    }
}

/// What one step measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct StepStats {
    /// Mini-batch loss before the step.
    pub loss: f32,
    /// ENN score of W1 before the step.
    pub score: f32,
    /// ‖η·m·∂L/∂W1‖ (Frobenius).
    pub loss_term_norm: f32,
    /// ‖λ_E·∂E/∂W1‖ (Frobenius).
    pub enn_term_norm: f32,
}

/// The lanes of [`scan`]: value `i` is summed in lane `i % L`.
const L: usize = LANES;

/// `(all finite, Σ v²)` in one pass.
///
/// Only the squares are summed, in 32 independent f32 lanes
/// ([`sum_squares_lanes`], at the CPU's vector width, the same bits on every ISA;
/// one running sum would not vectorize, a short-circuiting `all` neither): a NaN or ±∞
/// makes its lane's sum NaN or +∞, so all values are finite when the sum is. A non-finite
/// sum can also come from finite values whose squares overflow f32 (|v| > 1.8e19); only then
/// are the values checked one by one. The lanes are summed in f32 (a diagnostic norm;
/// relative error ~1e-6 here) and combined in f64.
fn scan(data: &[f32]) -> (bool, f64) {
    let sq = sum_squares_lanes(data);
    let total: f64 = sq.iter().map(|&v| v as f64).sum();
    let finite = total.is_finite() || data.iter().all(|v| v.is_finite());
    (finite, total)
}

/// [`scan`] of the dense matrix of `g`, bit for bit, from its block alone.
///
/// The dense matrix is +0 outside the block, and a lane's sum of squares (never −0) does not
/// change when `+0·+0` is added to it; so summing each stored entry into lane
/// `flat index % L`, in increasing flat index as the dense pass does, gives the same lanes.
fn scan_w1_gradient(g: &W1Gradient) -> (bool, f64) {
    if g.is_dense() {
        return scan(g.block());
    }
    let mut sq = [0.0f32; L];
    g.for_each_entry(|i, v| sq[i % L] += v * v);
    let total: f64 = sq.iter().map(|&v| v as f64).sum();
    let finite = total.is_finite() || g.block().iter().all(|v| v.is_finite());
    (finite, total)
}

fn non_finite(what: impl Into<String>) -> Error {
    Error::NonFinite {
        run: "universal-step".into(),
        step: 0,
        what: what.into(),
    }
}

/// Re-labels a [`Error::NonFinite`] with the caller's run name and step (other errors pass).
pub fn at_step(err: Error, run: &str, step: usize) -> Error {
    match err {
        Error::NonFinite { what, .. } => Error::NonFinite {
            run: run.to_string(),
            step,
            what,
        },
        e => e,
    }
}

/// θ ← θ − lr·∂L/∂θ for every parameter, and W1 ← W1 + le·∂E/∂W1.
///
/// With `le = 0` this is `Sgd::step` itself. Otherwise W1's SGD step and the ENN term take
/// one pass over W1 ([`W1Gradient::sgd_step_then_add_scaled`]) and every other parameter
/// the plain SGD step, layer by layer (the parameters in `Mlp`'s order, two per layer).
fn apply_step(mlp: &mut Mlp, grads: &[Tensor], de: &W1Gradient, lr: f32, le: f32) -> Result<()> {
    if le == 0.0 {
        return Sgd::new(lr).step(mlp, grads);
    }
    if grads.len() != 2 * mlp.layers.len() {
        let found = format!("{} gradients", grads.len());
        return Err(Error::shape("universal_step", "two per layer", found));
    }
    mlp.layers[0]
        .bias
        .expect_dims("universal_step", grads[1].dims())?;
    let mut sgd = Sgd::new(lr);
    for (l, layer) in mlp.layers.iter_mut().enumerate() {
        let g = &grads[2 * l..2 * l + 2];
        if l > 0 {
            sgd.step(layer, g)?;
            continue;
        }
        de.sgd_step_then_add_scaled(&mut layer.weight, &g[0], lr, le)?;
        let b = layer.bias.data_mut().iter_mut().zip(g[1].data());
        b.for_each(|(b, &g)| *b -= lr * g); // `Sgd::step`'s expression
    }
    Ok(())
}

/// One universal-backpropagation step on the batch `x` (batch × inputs) with `labels`.
///
/// The effective learning rate is `cfg.lr · lr_mult`; the ENN term is not multiplied by
/// `lr_mult`. Nothing is modified when the loss, a gradient or the ENN's gradient is NaN or
/// infinite: the step returns [`Error::NonFinite`] (run `"universal-step"`, step 0; relabel with
/// [`at_step`]).
pub fn universal_step(
    mlp: &mut Mlp,
    enn: &EvaluationNet,
    x: &Tensor,
    labels: &[u32],
    cfg: &UniversalConfig,
    lr_mult: f32,
) -> Result<StepStats> {
    // A NaN weight can hide from the loss (ReLU's `max(x, 0)` maps NaN to 0) and from the
    // ENN (the bilinear taps read only some of W1), so the parameters are checked directly.
    for (i, p) in mlp.params().into_iter().enumerate() {
        if !scan(p.data()).0 {
            let kind = if i % 2 == 0 { "weight" } else { "bias" };
            return Err(non_finite(format!("layer {} {kind}", i / 2)));
        }
    }
    let (loss, grads) = mlp.loss_and_grads(x, labels, cfg.l1)?;
    if !loss.is_finite() {
        return Err(non_finite("loss"));
    }
    let mut w1_grad_sq = 0.0;
    for (i, g) in grads.iter().enumerate() {
        let (finite, sq) = scan(g.data());
        if !finite {
            let kind = if i % 2 == 0 { "weight" } else { "bias" };
            return Err(non_finite(format!("gradient of layer {} {kind}", i / 2)));
        }
        if i == 0 {
            w1_grad_sq = sq;
        }
    }
    let (score, de) = enn.score_and_w1_gradient(&mlp.layers[0].weight)?;
    let (de_finite, de_sq) = scan_w1_gradient(&de);
    if !score.is_finite() || !de_finite {
        return Err(non_finite("ENN gradient of W1"));
    }
    let lr = cfg.lr * lr_mult;
    let loss_term_norm = lr.abs() * w1_grad_sq.sqrt() as f32;
    let enn_term_norm = cfg.le.abs() * de_sq.sqrt() as f32;
    // θ ← θ − η ∂L/∂θ for every parameter: the plain SGD step itself, so λ_E = 0 is plain
    // backprop bit for bit. Then W1 ← W1 + λ_E ∂E/∂W1 (each rounds to f32: `(w − η g) + λ_E
    // e`), in W1's SGD pass (`W1Gradient::sgd_step_then_add_scaled`, bit for bit the step
    // then `W1Gradient::add_scaled_to`).
    let w1_dims = mlp.layers[0].weight.dims();
    if de.dims()[..] != *w1_dims {
        let found = format!("{:?}", de.dims());
        return Err(Error::shape(
            "universal_step",
            format!("{w1_dims:?}"),
            found,
        ));
    }
    apply_step(mlp, &grads, &de, lr, cfg.le)?;
    Ok(StepStats {
        loss,
        score,
        loss_term_norm,
        enn_term_norm,
    })
}

#[cfg(test)]
mod tests {
    use super::{scan, scan_w1_gradient};
    use crate::instructor::weight_image::{weight_image_adjoint_block, WeightImageConfig};
    use crate::tensor::Tensor;
    use rand::rngs::StdRng;
    use rand::SeedableRng;

    #[test]
    fn block_scan_equals_the_dense_scan_bit_for_bit() {
        // W1 37 × 61 (rows not a multiple of the 32 lanes) and 100 × 784; one clean
        // gradient, one with a NaN, an infinity and a square that overflows f32 in the block.
        let mut rng = StdRng::seed_from_u64(7);
        for (rows, cols) in [(37, 61), (100, 784)] {
            let cfg = WeightImageConfig::default();
            let (h, w) = cfg.image_size(rows, cols).unwrap();
            let map = Tensor::uniform(&[h, w], -1.0, 1.0, &mut rng).unwrap();
            let g = weight_image_adjoint_block(&map, rows, cols, &cfg).unwrap();
            assert!(!g.is_dense());
            for bad in [None, Some(f32::NAN), Some(f32::INFINITY), Some(1e20)] {
                let mut values = map.clone();
                if let Some(b) = bad {
                    values.data_mut()[h * w / 2] = b;
                }
                let g = weight_image_adjoint_block(&values, rows, cols, &cfg).unwrap();
                let (bf, bs) = scan_w1_gradient(&g);
                let (df, ds) = scan(g.clone().into_tensor().unwrap().data());
                assert_eq!(
                    (bf, bs.to_bits()),
                    (df, ds.to_bits()),
                    "{rows}x{cols} {bad:?}"
                );
            }
        }
    }

    #[test]
    fn scan_flags_nan_and_infinity_but_not_squares_that_overflow() {
        // 33 values: one full 32-lane chunk and a remainder, with the bad value in each part.
        for pos in [0, 5, 31, 32] {
            for bad in [f32::NAN, f32::INFINITY, f32::NEG_INFINITY] {
                let mut v = vec![0.5f32; 33];
                v[pos] = bad;
                assert!(!scan(&v).0, "{bad} at {pos}");
            }
            // 1e20² overflows f32, yet every value is finite.
            let mut v = vec![0.5f32; 33];
            v[pos] = 1e20;
            let (finite, sq) = scan(&v);
            assert!(finite && sq.is_infinite(), "1e20 at {pos}");
        }
        // Σ v² of 33 × 0.5 = 8.25, exact in f32.
        assert_eq!(scan(&[0.5f32; 33]), (true, 8.25));
        assert_eq!(scan(&[]), (true, 0.0));
    }
}
