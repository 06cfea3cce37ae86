//! The study's step variants (`instructor::variants`): new gradients against central finite
//! differences, the couplings against their formulas, and the init variants' pairing.

mod common;

use common::synthetic;
use grad_instructor::instructor::variants::*;
use grad_instructor::instructor::weight_image::{ImageMode, InertColumns};
use grad_instructor::instructor::EvaluationNet;
use grad_instructor::nn::{Activation, Init, Mlp, Module};
use grad_instructor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

fn mlp(sizes: &[usize], seed: u64) -> Mlp {
    Mlp::new(
        sizes,
        Activation::Relu,
        Init::PytorchDefault,
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap()
}

fn batch(n: usize, dim: usize, classes: u32, seed: u64) -> (Tensor, Vec<u32>) {
    let mut rng = StdRng::seed_from_u64(seed);
    let x = Tensor::uniform(&[n, dim], 0.0, 1.0, &mut rng).unwrap();
    let y = (0..n).map(|_| rng.gen_range(0..classes)).collect();
    (x, y)
}

/// Central differences of `f` over `count` random entries of layer `layer`'s weight,
/// compared with `grad`. Step h and the tolerances are chosen by the caller.
#[allow(clippy::too_many_arguments)]
fn check_fd(
    net: &Mlp,
    layer: usize,
    grad: &Tensor,
    f: &dyn Fn(&Mlp) -> f64,
    h: f32,
    atol: f64,
    rtol: f64,
    count: usize,
    seed: u64,
) {
    let mut rng = StdRng::seed_from_u64(seed);
    let n = grad.numel();
    for _ in 0..count {
        let i = rng.gen_range(0..n);
        let mut plus = net.clone();
        plus.layers[layer].weight.data_mut()[i] += h;
        let mut minus = net.clone();
        minus.layers[layer].weight.data_mut()[i] -= h;
        let fd = (f(&plus) - f(&minus)) / (2.0 * h as f64);
        let g = grad.data()[i] as f64;
        assert!(
            (fd - g).abs() <= atol + rtol * fd.abs(),
            "layer {layer} entry {i}: analytic {g}, finite differences {fd}"
        );
    }
}

#[test]
fn oracle_gradient_matches_finite_differences_and_peaks_at_he_scale() {
    let net = mlp(&[12, 7, 5], 1);
    for set in [LayerSet::First, LayerSet::All] {
        let ev = oracle_evaluation(&net, set).unwrap();
        assert_eq!(ev.layers.len(), if set == LayerSet::First { 1 } else { 2 });
        let f = |m: &Mlp| oracle_evaluation(m, set).unwrap().score as f64;
        // E_o is smooth (a log of a positive sum of squares); with |W| ~ 0.3 and h = 1e-3 the
        // truncation error is O(h²) and the f32 rounding of E_o (~1e-6 of its ~10 value)
        // divided by 2h gives ~5e-3 absolute, against gradients of order 1.
        for (k, &l) in ev.layers.iter().enumerate() {
            check_fd(&net, l, &ev.grads[k], &f, 1e-3, 1e-2, 1e-2, 20, l as u64);
        }
    }
    // Rescaled to ‖W_l‖² = 2·out_l the oracle is at its maximum 0 with zero gradient.
    let mut he_scaled = net.clone();
    for layer in &mut he_scaled.layers {
        let q: f64 = layer
            .weight
            .data()
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum();
        let target = 2.0 * layer.outputs() as f64;
        layer.weight = layer.weight.mul_scalar((target / q).sqrt() as f32);
    }
    let ev = oracle_evaluation(&he_scaled, LayerSet::All).unwrap();
    assert!(ev.score.abs() < 1e-8, "{}", ev.score);
    assert!(ev
        .grads
        .iter()
        .all(|g| g.data().iter().all(|v| v.abs() < 1e-5)));
    // The default init is below He's scale: the gradient points outwards (along +W).
    let ev = oracle_evaluation(&net, LayerSet::First).unwrap();
    let along: f32 = ev.grads[0]
        .data()
        .iter()
        .zip(net.layers[0].weight.data())
        .map(|(g, w)| g * w)
        .sum();
    assert!(ev.score < 0.0 && along > 0.0);
}

#[test]
fn enn_gradients_through_masked_images_and_every_layer_match_finite_differences() {
    // 20×40 at scale 0.15 is a 3×6 image; the layers 8×20 and 4×8 get their scale raised.
    let net = mlp(&[40, 20, 8, 4], 2);
    let plain = EvaluationNet::new(&mut StdRng::seed_from_u64(3)).unwrap();
    let mut images = vec![0.5f32; 10 * 40];
    let mut rng = StdRng::seed_from_u64(4);
    for (i, v) in images.iter_mut().enumerate() {
        if i % 40 >= 6 {
            *v = rng.gen();
        }
    }
    // Columns 0..6 are constant over the 10 images: masked.
    let inert = InertColumns::from_data(&images, 40, 1e-3).unwrap();
    assert_eq!(inert.columns, (0..6).collect::<Vec<_>>());
    let mut masked = plain.clone();
    masked.image.inert = Some(inert);
    masked.image.mode = ImageMode::Area;
    for output in [EnnOutputKind::Sigmoid, EnnOutputKind::Logit] {
        for layers in [LayerSet::First, LayerSet::All] {
            let enn = if layers == LayerSet::First {
                &masked
            } else {
                &plain
            };
            let e = Evaluator::Enn(EnnEvaluator {
                enn,
                output,
                layers,
            });
            let ev = e.evaluate(&net).unwrap();
            // The ascended quantity, recomputed from the scores: σ(z), or z = logit(σ).
            let f = |m: &Mlp| {
                let ev = e.evaluate(m).unwrap();
                match (output, layers) {
                    (EnnOutputKind::Sigmoid, _) => ev.score as f64,
                    (EnnOutputKind::Logit, LayerSet::First) => {
                        let s = ev.score as f64;
                        (s / (1.0 - s)).ln()
                    }
                    (EnnOutputKind::Logit, LayerSet::All) => unreachable!(),
                }
            };
            if output == EnnOutputKind::Logit && layers == LayerSet::All {
                continue;
            }
            // The ENN is piecewise linear (ReLU, max-pool) before the sigmoid; h = 1e-3 on
            // weights of ~0.2 (image values ~1 after the gain) rarely crosses a kink, and the
            // f32 score's rounding (6e-8) over 2h is 3e-5. Gradients here are ~1e-3–1e-1.
            for (k, &l) in ev.layers.iter().enumerate() {
                check_fd(
                    &net,
                    l,
                    &ev.grads[k],
                    &f,
                    1e-3,
                    2e-4,
                    5e-2,
                    25,
                    10 + l as u64,
                );
            }
            if layers == LayerSet::First {
                let g = ev.grads[0].data();
                assert!(
                    (0..g.len()).all(|i| (g[i] == 0.0) == (i % 40 < 6)),
                    "exactly the masked columns receive no gradient (area mode reads every entry)"
                );
            }
        }
    }
    // The logit's gradient is the sigmoid's divided by σ′ = σ(1 − σ).
    let ev = |output| {
        Evaluator::Enn(EnnEvaluator {
            enn: &plain,
            output,
            layers: LayerSet::First,
        })
        .evaluate(&net)
        .unwrap()
    };
    let (s, z) = (ev(EnnOutputKind::Sigmoid), ev(EnnOutputKind::Logit));
    let d = s.score * (1.0 - s.score);
    for (a, b) in s.grads[0].data().iter().zip(z.grads[0].data()) {
        assert!(
            (a / d - b).abs() <= 1e-4 * b.abs() + 1e-7,
            "{a} / {d} vs {b}"
        );
    }
}

#[test]
fn plain_step_is_sgd_and_couplings_follow_their_formulas() {
    let net = mlp(&[40, 20, 4], 5);
    let (x, y) = batch(8, 40, 4, 6);
    let lr = 0.05f32;
    let (_, grads) = net.loss_and_grads(&x, &y, 0.0).unwrap();
    // No evaluator: w − lr g, bit for bit.
    let mut plain = net.clone();
    variant_step(&mut plain, &x, &y, lr, 1.0, 0.0, None).unwrap();
    for ((p, w), g) in plain.params().iter().zip(net.params()).zip(&grads) {
        for ((&a, &w), &g) in p.data().iter().zip(w.data()).zip(g.data()) {
            assert_eq!(a, w - lr * g);
        }
    }
    let oracle = Evaluator::Oracle(LayerSet::First);
    let ev = oracle.evaluate(&net).unwrap();
    // Additive: W1 gets + le d, everything else plain.
    let mut add = net.clone();
    let st = variant_step(
        &mut add,
        &x,
        &y,
        lr,
        1.0,
        0.0,
        Some((&oracle, Coupling::Additive { le: 0.01 })),
    )
    .unwrap();
    for ((&a, &w), (&g, &d)) in add.layers[0]
        .weight
        .data()
        .iter()
        .zip(net.layers[0].weight.data())
        .zip(grads[0].data().iter().zip(ev.grads[0].data()))
    {
        assert_eq!(a, (w - lr * g) + 0.01 * d);
    }
    assert_eq!(add.layers[1], plain.layers[1]);
    let ratio = step_ratio(&net, &x, &y, lr, &oracle, Coupling::Additive { le: 1.0 }).unwrap();
    let got = st.eval_term_norm as f64 / st.loss_term_norm as f64;
    assert!(
        (got - 0.01 * ratio).abs() < 1e-4 * got,
        "{got} vs {}",
        0.01 * ratio
    );
    // Normalised: the extra step's norm is fraction × the loss step's, along d.
    let mut norm = net.clone();
    let st = variant_step(
        &mut norm,
        &x,
        &y,
        lr,
        1.0,
        0.0,
        Some((&oracle, Coupling::Normalised { fraction: 0.3 })),
    )
    .unwrap();
    assert!((st.eval_term_norm / st.loss_term_norm - 0.3).abs() < 1e-5);
    // Projected: the extra step is parallel to g (the change beyond plain SGD).
    let mut proj = net.clone();
    let st = variant_step(
        &mut proj,
        &x,
        &y,
        lr,
        1.0,
        0.0,
        Some((&oracle, Coupling::Projected { le: 0.01 })),
    )
    .unwrap();
    let extra: Vec<f64> = proj.layers[0]
        .weight
        .data()
        .iter()
        .zip(plain.layers[0].weight.data())
        .map(|(&a, &b)| (a - b) as f64)
        .collect();
    let g: Vec<f64> = grads[0].data().iter().map(|&v| v as f64).collect();
    let dg: f64 = ev.grads[0]
        .data()
        .iter()
        .zip(&g)
        .map(|(&d, g)| d as f64 * g)
        .sum();
    let gg: f64 = g.iter().map(|v| v * v).sum();
    for (e, gi) in extra.iter().zip(&g) {
        // f32 rounding of w − lr g + c g against w − lr g: a few ulp of |w| ~ 0.2.
        assert!((e - 0.01 * dg / gg * gi).abs() < 1e-7, "{e}");
    }
    assert!(st.eval_term_norm > 0.0);
    // Multiplicative: every parameter takes lr (1 + le (1 − E)).
    let enn = EvaluationNet::new(&mut StdRng::seed_from_u64(7)).unwrap();
    let e = Evaluator::Enn(EnnEvaluator {
        enn: &enn,
        output: EnnOutputKind::Sigmoid,
        layers: LayerSet::First,
    });
    let score = e.evaluate(&net).unwrap().score;
    let mut mult = net.clone();
    variant_step(
        &mut mult,
        &x,
        &y,
        lr,
        1.0,
        0.0,
        Some((&e, Coupling::Multiplicative { le: 0.5 })),
    )
    .unwrap();
    let step = lr * (1.0 + 0.5 * (1.0 - score));
    for ((p, w), g) in mult.params().iter().zip(net.params()).zip(&grads) {
        for ((&a, &w), &g) in p.data().iter().zip(w.data()).zip(g.data()) {
            assert_eq!(a, w - step * g);
        }
    }
    let r = step_ratio(&net, &x, &y, lr, &e, Coupling::Multiplicative { le: 1.0 }).unwrap();
    assert!((r - (1.0 - score as f64)).abs() < 1e-12);
}

#[test]
fn non_finite_weights_leave_the_network_untouched() {
    let mut net = mlp(&[10, 6, 3], 8);
    net.layers[1].weight.data_mut()[2] = f32::NAN;
    let before = net.clone();
    let (x, y) = batch(4, 10, 3, 9);
    let oracle = Evaluator::Oracle(LayerSet::All);
    let err = variant_step(
        &mut net,
        &x,
        &y,
        0.1,
        1.0,
        0.0,
        Some((&oracle, Coupling::Additive { le: 1.0 })),
    )
    .unwrap_err();
    assert!(err.to_string().contains("layer 1 weight"), "{err}");
    assert_eq!(net.layers[0], before.layers[0]);
}

#[test]
fn init_variants_share_layers_by_seed_and_scaled_has_he_variance() {
    let sizes = [784, 100, 100, 10];
    let get = |v: InitVariant| v.build(&sizes, Activation::Relu, 11).unwrap();
    let (bp, he) = (get(InitVariant::Default), get(InitVariant::He));
    let (w1, rest) = (get(InitVariant::HeW1), get(InitVariant::HeRest));
    assert_eq!(w1.layers[0], he.layers[0]);
    assert_eq!(w1.layers[1..], bp.layers[1..]);
    assert_eq!(rest.layers[0], bp.layers[0]);
    assert_eq!(rest.layers[1..], he.layers[1..]);
    assert_ne!(bp.layers[0], he.layers[0]);
    let scaled = get(InitVariant::ScaledToHe);
    for (s, b) in scaled.layers.iter().zip(&bp.layers) {
        let fan_in = s.inputs() as f64;
        let var: f64 = s
            .weight
            .data()
            .iter()
            .map(|&v| (v as f64).powi(2))
            .sum::<f64>()
            / s.weight.numel() as f64;
        // 2/fan_in within sampling error (≥ 1,000 draws: relative sd of a variance of a
        // uniform law ≈ √(0.8/n) < 3 %; 15 % leaves room for the 10×100 layer).
        assert!((var * fan_in / 2.0 - 1.0).abs() < 0.15, "{var}");
        // The same uniform draws, scaled: paired with bp.
        let ratio = s.weight.data()[3] / b.weight.data()[3];
        assert!((ratio - 6f32.sqrt()).abs() < 1e-4, "{ratio}");
    }
}

#[test]
fn schedules_and_small_matrix_images() {
    let w = LrSchedule::WarmupBoost {
        boost: 1.0,
        steps: 100,
    };
    assert_eq!(w.multiplier(0), 2.0);
    assert_eq!(w.multiplier(50), 1.5);
    assert_eq!(w.multiplier(100), 1.0);
    assert_eq!(w.multiplier(10_000), 1.0);
    assert_eq!(LrSchedule::Constant(1.5).multiplier(7), 1.5);
    let base = grad_instructor::instructor::WeightImageConfig::default();
    for (rows, cols) in [(100, 784), (100, 100), (10, 100), (4, 8)] {
        let (h, w) = layer_image_config(&base, 0, rows, cols)
            .image_size(rows, cols)
            .unwrap();
        assert!(
            h >= 4.min(rows) && w >= 4.min(cols),
            "{rows}x{cols} -> {h}x{w}"
        );
    }
    assert_eq!(
        layer_image_config(&base, 0, 100, 784)
            .image_size(100, 784)
            .unwrap(),
        (15, 117)
    );
}

#[test]
fn value_enn_training_is_deterministic_on_policy_and_over_every_layer() {
    use grad_instructor::instructor::value_enn::*;
    let train = synthetic(200, 40, 4, &mut StdRng::seed_from_u64(1));
    let reward = synthetic(100, 40, 4, &mut StdRng::seed_from_u64(2));
    for (layers, rho) in [(LayerSet::First, Some(0.3f32)), (LayerSet::All, None)] {
        let mut spec = ValueEnnSpec::study(&[40, 20, 4], layers);
        spec.episodes = 3;
        spec.steps = 30;
        spec.record_every = 10;
        spec.lookahead = 10;
        spec.batch = 16;
        spec.lr = 0.05;
        spec.on_policy_rho = rho;
        spec.image.mode = ImageMode::Area;
        if layers == LayerSet::First {
            spec.image.inert = Some(InertColumns::from_data(&train.images, 40, 1e-3).unwrap());
        }
        let run = || {
            let mut rng = StdRng::seed_from_u64(5);
            let mut enn = EvaluationNet::new(&mut rng).unwrap();
            let logs = train_value_enn(&mut enn, &spec, &train, &reward, &mut rng, |_| {}).unwrap();
            (enn, logs)
        };
        let (a, logs) = run();
        let (b, logs_b) = run();
        assert_eq!(a, b);
        assert_eq!(logs, logs_b);
        assert_eq!(logs.len(), 3);
        for l in &logs {
            assert!((0.0..=1.0).contains(&l.mean_target) && l.loss.is_finite());
            assert_eq!(l.le > 0.0, rho.is_some(), "{l:?}");
        }
        let fresh = EvaluationNet::new(&mut StdRng::seed_from_u64(5)).unwrap();
        assert_ne!(a.fc2, fresh.fc2, "the ENN was updated");
    }
}
