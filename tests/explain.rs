//! Grad-CAM through a real tape on a tiny network whose answer can be worked out by hand, and
//! the ENN's Grad-CAM end to end.

use grad_instructor::autodiff::Tape;
use grad_instructor::explain::enn_cam::enn_gradcam;
use grad_instructor::explain::gradcam::normalize_unit;
use grad_instructor::explain::{class_activation_map, CamMethod};
use grad_instructor::instructor::EvaluationNet;
use grad_instructor::Tensor;
use rand::rngs::StdRng;
use rand::SeedableRng;

#[test]
fn gradcam_on_a_tiny_net_matches_the_hand_computed_map() {
    // x (1,1,2,2) = [1, 2; 3, 4]; a 1×1 conv with two filters w = (1, 0.5), no bias, so
    // A₀ = x and A₁ = 0.5·x (all positive: ReLU passes everything); global average pooling
    // gives (2.5, 1.25); the score E = v·GAP with v = (1, 1).
    // ∂E/∂A_k = v_k / (h·w) = 0.25 everywhere ⇒ α = (0.25, 0.25),
    // cam = ReLU(0.25·x + 0.25·0.5·x) = 0.375·x = [0.375, 0.75; 1.125, 1.5],
    // normalized: [0, 1/3; 2/3, 1].
    let x = Tensor::from_vec(vec![1., 2., 3., 4.], &[1, 1, 2, 2]).unwrap();
    let w = Tensor::from_vec(vec![1.0, 0.5], &[2, 1, 1, 1]).unwrap();
    let v = Tensor::from_vec(vec![1.0, 1.0], &[1, 2]).unwrap();
    let mut tape = Tape::new();
    let xv = tape.leaf(x, true);
    let wv = tape.constant_ref(&w);
    let vv = tape.constant_ref(&v);
    let a = tape.conv2d(xv, wv, None, 1, 0).unwrap();
    let a = tape.relu(a);
    let g = tape.global_avg_pool(a).unwrap();
    let e = tape.matmul_t(g, false, vv, true).unwrap();
    let e = tape.sum(e);
    assert_eq!(tape.item(e).unwrap(), 3.75);
    let grads = tape.backward(e).unwrap();
    let cam =
        class_activation_map(tape.value(a), grads.get(a).unwrap(), CamMethod::GradCam).unwrap();
    assert_eq!(cam.data(), &[0.375, 0.75, 1.125, 1.5]);
    let unit = normalize_unit(&cam);
    for (got, want) in unit.data().iter().zip([0.0, 1.0 / 3.0, 2.0 / 3.0, 1.0]) {
        assert!((got - want).abs() < 1e-6, "{got} vs {want}");
    }
}

#[test]
fn enn_gradcam_maps_have_the_right_sizes_and_range() {
    let mut rng = StdRng::seed_from_u64(5);
    let enn = EvaluationNet::new(&mut rng).unwrap();
    let w1 = Tensor::uniform(&[100, 784], -0.036, 0.036, &mut rng).unwrap();
    for method in [CamMethod::GradCam, CamMethod::GradCamPlusPlus] {
        let cam = enn_gradcam(&enn, &w1, method).unwrap();
        assert_eq!(cam.raw.dims(), &[7, 58]); // 15×117 after the 2×2 max-pool
        assert_eq!(cam.input_map.dims(), &[15, 117]);
        assert_eq!(cam.heat.dims(), &[100, 784]);
        assert_eq!(cam.saliency.dims(), &[100, 784]);
        assert_eq!(cam.heat_per_input.dims(), &[784]);
        assert_eq!(cam.heat_per_hidden.dims(), &[100]);
        for m in [
            &cam.input_map,
            &cam.heat,
            &cam.saliency,
            &cam.heat_per_input,
            &cam.heat_per_hidden,
            &cam.saliency_per_input,
            &cam.saliency_per_hidden,
        ] {
            assert!(m.data().iter().all(|&x| (0.0..=1.0).contains(&x)));
        }
        assert!((cam.score - enn.score(&w1).unwrap()).abs() < 1e-6);
    }
}

/// A linearly separable toy set: class = which of 4 input blocks is bright.
fn toy_dataset(n: usize, seed: u64) -> grad_instructor::data::Dataset {
    use rand::Rng;
    let mut rng = StdRng::seed_from_u64(seed);
    let dim = 16;
    let (mut images, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let y = rng.gen_range(0..4u32);
        for k in 0..dim {
            let on = k / 4 == y as usize;
            images.push(if on { 1.0 } else { 0.0 } + rng.gen_range(0.0..0.1));
        }
        labels.push(y);
    }
    grad_instructor::data::Dataset {
        images,
        labels,
        dim,
    }
}

#[test]
fn lottery_study_runs_every_mask_over_several_mlps_and_is_independent_of_threads() {
    use grad_instructor::explain::lottery::{lottery_study, LotteryCase, MaskKind};
    use grad_instructor::explain::{FinetuneConfig, LotteryConfig};
    use grad_instructor::nn::{Activation, Init, Mlp};
    let (train, test) = (toy_dataset(256, 1), toy_dataset(128, 2));
    let cases: Vec<LotteryCase> = (0..4u64)
        .map(|s| {
            let mut rng = StdRng::seed_from_u64(100 + s);
            let mlp = Mlp::new(
                &[16, 8, 4],
                Activation::Relu,
                Init::PytorchDefault,
                &mut rng,
            )
            .unwrap();
            // Heat on the first input block only (and zero elsewhere: ties).
            let heat = Tensor::from_vec(
                (0..8 * 16)
                    .map(|i| f32::from(u8::from(i % 16 < 4)))
                    .collect(),
                &[8, 16],
            )
            .unwrap();
            LotteryCase {
                seed: 100 + s,
                mlp,
                heat,
                fresh_heat: None,
            }
        })
        .collect();
    let config = LotteryConfig {
        percents: vec![25.0, 50.0],
        n_random: 2,
        finetune: FinetuneConfig {
            steps: 20,
            lr: 0.1,
            batch: 16,
        },
    };
    let one = lottery_study(&cases, &config, &train, &test, 7, 1, &|_| {}).unwrap();
    let done = std::sync::atomic::AtomicUsize::new(0);
    let count = |_| {
        done.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    };
    let two = lottery_study(&cases, &config, &train, &test, 7, 3, &count).unwrap();
    assert_eq!(done.into_inner(), 4, "one report per MLP");
    assert_eq!(one, two, "threads change nothing");
    assert_eq!(one.rows.len(), 2 * MaskKind::ALL.len());
    assert_eq!(one.comparisons.len(), 2 * (MaskKind::ALL.len() - 1));
    assert_eq!(one.seeds, vec![100, 101, 102, 103]);
    for r in &one.rows {
        assert_eq!(r.per_mlp.len(), 4);
        assert!((0.0..=1.0).contains(&r.finetuned.0) && r.finetuned.1 >= 0.0);
        let mean = r.per_mlp.iter().sum::<f64>() / 4.0;
        assert!((mean - r.finetuned.0).abs() < 1e-12);
    }
    for c in &one.comparisons {
        assert_ne!(c.control, MaskKind::Heat);
        assert!(c.p_holm >= c.p || c.p.is_nan());
    }
    // Another run seed draws other masks and ties.
    let other = lottery_study(&cases, &config, &train, &test, 8, 1, &|_| {}).unwrap();
    assert_ne!(one, other);
    // With a fresh ENN's heat on every case, that control joins the table.
    let with_fresh: Vec<LotteryCase> = cases
        .iter()
        .map(|c| LotteryCase {
            fresh_heat: Some(c.heat.map(|h| 1.0 - h)),
            ..c.clone()
        })
        .collect();
    let f = lottery_study(&with_fresh, &config, &train, &test, 7, 2, &|_| {}).unwrap();
    assert_eq!(*f.kinds.last().unwrap(), MaskKind::FreshEnnHeat);
    assert_eq!(f.rows.len(), 2 * 7);
    assert_eq!(f.comparisons.len(), 2 * 6);
    // The extra kind runs after the six others of the first percentage, so those rows are
    // the same numbers as without it (later ones draw from a mask stream it advanced).
    assert_eq!(f.rows[..6], one.rows[..6]);
    let mut mixed = with_fresh.clone();
    mixed[0].fresh_heat = None;
    assert!(lottery_study(&mixed, &config, &train, &test, 7, 1, &|_| {}).is_err());
    // A heat map of the wrong shape is an error, not a panic.
    let mut bad = cases.clone();
    bad[1].heat = Tensor::zeros(&[4, 16]).unwrap();
    assert!(lottery_study(&bad, &config, &train, &test, 7, 1, &|_| {}).is_err());
}
