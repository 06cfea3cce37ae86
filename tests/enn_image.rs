//! What the ENN sees of W1: image modes, the inert-column mask, the configuration surviving a
//! save and reload, the image's adjoint, the gradient's coverage of W1, the logit's gradient
//! norm, and Grad-CAM heat restricted to the entries the ENN reads.

mod common;

use common::temp_dir;
use grad_instructor::autodiff::Tape;
use grad_instructor::explain::enn_cam::{column_sums, enn_gradcam, normalize_max, row_sums};
use grad_instructor::explain::{enn_coverage, gradient_coverage, gradient_norms, CamMethod};
use grad_instructor::instructor::enn::IMAGE_METADATA_KEY;
use grad_instructor::instructor::*;
use grad_instructor::kernels::resize::bilinear_taps;
use grad_instructor::nn::{Init, Linear, Module, Sgd};
use grad_instructor::{Error, Tensor};
use rand::rngs::StdRng;
use rand::SeedableRng;

fn enn(seed: u64) -> EvaluationNet {
    EvaluationNet::new(&mut StdRng::seed_from_u64(seed)).unwrap()
}

/// A W1 like PyTorch's default init of a 784-input layer, U(±1/√784).
fn w1(seed: u64) -> Tensor {
    Tensor::uniform(
        &[100, 784],
        -1.0 / 28.0,
        1.0 / 28.0,
        &mut StdRng::seed_from_u64(seed),
    )
    .unwrap()
}

/// Entries of a `rows × cols` W1 that some bilinear tap at `scale` reads.
fn bilinear_read_set(rows: usize, cols: usize, scale: f64) -> Vec<bool> {
    let (h, w) = (
        (rows as f64 * scale).floor() as usize,
        (cols as f64 * scale).floor() as usize,
    );
    let mut read = vec![false; rows * cols];
    for i in 0..h {
        let (y0, y1, _, _) = bilinear_taps(i, 1.0 / scale, rows);
        for j in 0..w {
            let (x0, x1, _, _) = bilinear_taps(j, 1.0 / scale, cols);
            for (y, x) in [(y0, x0), (y0, x1), (y1, x0), (y1, x1)] {
                read[y * cols + x] = true;
            }
        }
    }
    read
}

/// A mask of the 28×28 frame of width 4 (MNIST's almost always blank border) on 784 inputs.
fn frame_mask() -> InertColumns {
    let columns = (0..784)
        .filter(|&c| {
            let (r, k) = (c / 28, c % 28);
            !(4..24).contains(&r) || !(4..24).contains(&k)
        })
        .collect();
    InertColumns {
        threshold: DEFAULT_INERT_THRESHOLD,
        n_inputs: 784,
        columns,
    }
}

#[test]
fn bilinear_image_reads_7020_entries_of_a_100x784_w1() {
    // 30 rows × 234 columns, as issue 12 counts.
    let read = bilinear_read_set(100, 784, 0.15);
    assert_eq!(read.iter().filter(|&&r| r).count(), 7020);
}

#[test]
fn enn_saved_with_the_area_image_reloads_with_it_and_scores_the_same() {
    let mut e = enn(3);
    e.image = WeightImageConfig::with_mode(ImageMode::Area);
    e.image.inert = Some(frame_mask());
    let w = w1(4);
    let want = e.score(&w).unwrap();
    let dir = temp_dir("reload");
    let path = dir.join("enn.safetensors");
    e.save(&path, &[("note", "test")]).unwrap();
    let back = EvaluationNet::load(&path).unwrap();
    // Before the configuration was recorded, loading reset it to the default (bilinear, no
    // mask), and the reloaded ENN scored another image.
    assert_eq!(back.image, e.image);
    assert_eq!(back.image.mode, ImageMode::Area);
    assert_eq!(back, e);
    assert_eq!(back.score(&w).unwrap(), want);
    let bilinear = EvaluationNet {
        image: WeightImageConfig::default(),
        ..e.clone()
    };
    assert_ne!(
        bilinear.score(&w).unwrap(),
        want,
        "the test must see the mode"
    );
    // The extra metadata is kept; a second "image" key is refused, not overwritten.
    assert_eq!(
        grad_instructor::io::safetensors::load(&path)
            .unwrap()
            .meta("note"),
        Some("test")
    );
    assert!(e.save(&path, &[(IMAGE_METADATA_KEY, "{}")]).is_err());
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn enn_file_with_a_damaged_image_configuration_is_a_clear_error() {
    let e = enn(5);
    let dir = temp_dir("damaged");
    let path = dir.join("enn.safetensors");
    let named = e.named_params();
    let tensors: Vec<(&str, &Tensor)> = named.iter().map(|(n, t)| (n.as_str(), *t)).collect();
    for bad in [
        "not json",
        r#"{"resize_scale":0.15,"gain":null,"mode":"bicubic","inert":null}"#,
        r#"{"resize_scale":-1,"gain":null,"mode":"area","inert":null}"#,
    ] {
        // Checksummed (as EvaluationNet::load requires), so the image entry is what fails.
        let meta = [(IMAGE_METADATA_KEY, bad)];
        grad_instructor::io::safetensors::save_checked(&path, &tensors, &meta).unwrap();
        let r = EvaluationNet::load(&path);
        assert!(
            matches!(r, Err(Error::InvalidArgument { .. })),
            "{bad}: {r:?}"
        );
    }
    // A (checksummed) file without the key loads with the default image.
    grad_instructor::io::safetensors::save_checked(&path, &tensors, &[]).unwrap();
    assert_eq!(EvaluationNet::load(&path).unwrap(), e);
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn image_configuration_json_round_trips_every_mode_and_mask() {
    for mode in ImageMode::ALL {
        for inert in [None, Some(frame_mask())] {
            let cfg = WeightImageConfig {
                mode,
                inert,
                gain: Some(3.5),
                ..WeightImageConfig::default()
            };
            assert_eq!(WeightImageConfig::from_json(&cfg.to_json()).unwrap(), cfg);
        }
        assert_eq!(ImageMode::parse(mode.name()).unwrap(), mode);
    }
    assert!(matches!(ImageMode::parse("bicubic"), Err(Error::Usage(_))));
}

#[test]
fn every_mode_matches_between_the_taped_and_the_batched_image() {
    let (a, b) = (w1(6), w1(7));
    for mode in ImageMode::ALL {
        for inert in [None, Some(frame_mask())] {
            let cfg = WeightImageConfig {
                mode,
                inert,
                ..WeightImageConfig::default()
            };
            let batch = weight_images(&[&a, &b], &cfg).unwrap();
            assert_eq!(batch.dims(), &[2, 1, 15, 117]);
            for (k, w) in [&a, &b].into_iter().enumerate() {
                let mut tape = Tape::new();
                let v = tape.constant_ref(w);
                let img = weight_image_with(&mut tape, v, &cfg).unwrap();
                // Same kernels, same order: bit-identical.
                assert_eq!(
                    &batch.data()[k * 15 * 117..(k + 1) * 15 * 117],
                    tape.value(img).data(),
                    "{mode:?}"
                );
            }
        }
    }
}

#[test]
fn area_image_is_the_mean_of_each_window() {
    // A 4×6 W1 at scale 0.5 → 2×3; windows [0,2)×[0,2), [0,2)×[2,4), ...; gain 1.
    let w = Tensor::from_vec((0..24).map(|x| x as f32).collect(), &[4, 6]).unwrap();
    let cfg = WeightImageConfig {
        resize_scale: 0.5,
        gain: Some(1.0),
        mode: ImageMode::Area,
        inert: None,
    };
    let img = weight_images(&[&w], &cfg).unwrap();
    // Window (0,0): {0, 1, 6, 7} → 3.5; each step right adds 2, each step down adds 12.
    assert_eq!(img.data(), &[3.5, 5.5, 7.5, 15.5, 17.5, 19.5]);
}

#[test]
fn the_enn_gradient_reaches_every_entry_with_the_area_image_and_none_of_the_masked_ones() {
    let w = w1(8);
    let mut e = enn(9);
    let variance: Vec<f64> = (0..784)
        .map(|c| {
            if frame_mask().columns.contains(&c) {
                0.0
            } else {
                0.1
            }
        })
        .collect();
    let cov = |e: &EvaluationNet| enn_coverage(e, &w, &variance, 1e-3).unwrap();
    let read = bilinear_read_set(100, 784, 0.15);
    let (_, g) = e.score_and_grad_w1(&w).unwrap();
    // Bilinear: the gradient is exactly 0 off the taps, so coverage ≤ 7 020 / 78 400.
    assert!(g.data().iter().zip(&read).all(|(&x, &r)| r || x == 0.0));
    let bilinear = cov(&e);
    assert!(
        bilinear.reached <= 7020 && bilinear.reached > 6000,
        "{bilinear:?}"
    );
    assert_eq!(bilinear.inert_columns, 784 - 400);
    assert!(bilinear.inert_share() > 0.1, "{bilinear:?}");
    e.image = WeightImageConfig::with_mode(ImageMode::Area);
    let area = cov(&e);
    assert_eq!(area.reached, 78400, "{area:?}");
    // With the frame masked, no gradient lands on it, in any mode.
    for mode in ImageMode::ALL {
        e.image = WeightImageConfig::with_mode(mode);
        e.image.inert = Some(frame_mask());
        let masked = cov(&e);
        assert_eq!(masked.inert_grad_sq, 0.0, "{mode:?}");
        assert!(masked.grad_sq > 0.0);
        // The image does not depend on the masked weights at all.
        let mut moved = w.clone();
        for row in moved.data_mut().chunks_exact_mut(784) {
            frame_mask().columns.iter().for_each(|&c| row[c] += 1.0);
        }
        assert_eq!(e.score(&moved).unwrap(), e.score(&w).unwrap());
    }
    // Area + mask: exactly the 100 × 400 unmasked entries.
    e.image.mode = ImageMode::Area;
    assert_eq!(cov(&e).reached, 40000);
}

#[test]
fn gradient_coverage_counts_by_hand() {
    // 2 × 3, column 1 inert: g = [0, 3, 4; 0, 0, 1] → 3 of 6 reached, ‖g‖² = 26, inert 9.
    let g = Tensor::from_vec(vec![0., 3., 4., 0., 0., 1.], &[2, 3]).unwrap();
    let c = gradient_coverage(&g, &[0.5, 1e-4, 0.5], 1e-3).unwrap();
    assert_eq!((c.reached, c.entries, c.inert_columns), (3, 6, 1));
    assert_eq!((c.grad_sq, c.inert_grad_sq), (26.0, 9.0));
    assert_eq!(c.reached_fraction(), 0.5);
    assert_eq!(c.inert_share(), 9.0 / 26.0);
    assert!(gradient_coverage(&g, &[0.5], 1e-3).is_err());
}

#[test]
fn pixel_variance_and_inert_columns_match_hand_values() {
    // 3 examples × 3 pixels: column 0 constant, column 1 {0, 1, 2}, column 2 {0, 0, 0.03}.
    let x = [0.5, 0., 0., 0.5, 1., 0., 0.5, 2., 0.03];
    let v = pixel_variance(&x, 3).unwrap();
    assert_eq!(v[0], 0.0);
    assert!((v[1] - 2.0 / 3.0).abs() < 1e-12);
    // mean 0.01, Σ(x − m)² = 2·1e-4 + 4e-4 = 6e-4 → 2e-4 (f32 input: 1e-9 slack).
    assert!((v[2] - 2e-4).abs() < 1e-9, "{}", v[2]);
    let m = InertColumns::from_data(&x, 3, 1e-3).unwrap();
    assert_eq!(m.columns, vec![0, 2]);
    assert_eq!(m.keep(), vec![0.0, 1.0, 0.0]);
    assert!(pixel_variance(&x, 2).is_err());
    assert!(InertColumns::from_data(&x, 3, f64::NAN).is_err());
    // A mask for another input count is refused by the image.
    let cfg = WeightImageConfig {
        inert: Some(m),
        ..WeightImageConfig::default()
    };
    assert!(weight_images(&[&w1(1)], &cfg).is_err());
}

#[test]
fn image_adjoint_puts_each_pixel_on_the_entries_it_reads_by_hand() {
    // W1 4 × 8 at scale 0.25 → a 1 × 2 image, ratio 4: output column 0 reads source
    // coordinate 4·0.5 − 0.5 = 1.5 (columns 1, 2 at ½ each), column 1 reads 5.5 (5, 6);
    // the row reads 1.5 (rows 1, 2). With gain 1 every tap weighs ¼, so Rᵀ [a, b] puts a/4 on
    // rows 1–2 × columns 1–2, b/4 on rows 1–2 × columns 5–6, and 0 everywhere else.
    let cfg = WeightImageConfig {
        resize_scale: 0.25,
        gain: Some(1.0),
        ..WeightImageConfig::default()
    };
    let map = Tensor::from_vec(vec![8.0, 4.0], &[1, 2]).unwrap();
    let back = weight_image_adjoint(&map, 4, 8, &cfg).unwrap();
    #[rustfmt::skip]
    let want = [
        0., 0., 0., 0., 0., 0., 0., 0.,
        0., 2., 2., 0., 0., 1., 1., 0.,
        0., 2., 2., 0., 0., 1., 1., 0.,
        0., 0., 0., 0., 0., 0., 0., 0.,
    ];
    assert_eq!(back.data(), &want);
    assert!(weight_image_adjoint(&map, 4, 12, &cfg).is_err()); // 12 · 0.25 = 3 wide, not 2
}

#[test]
fn image_adjoint_satisfies_the_inner_product_identity_in_every_mode() {
    // ⟨R x, y⟩ = ⟨x, Rᵀ y⟩ for random x (W1) and y (image), in f64 sums of f32 products.
    let mut rng = StdRng::seed_from_u64(12);
    let x = w1(13);
    for mode in ImageMode::ALL {
        for inert in [None, Some(frame_mask())] {
            let cfg = WeightImageConfig {
                mode,
                inert,
                ..WeightImageConfig::default()
            };
            let rx = weight_images(&[&x], &cfg).unwrap();
            let y = Tensor::uniform(&[15, 117], -1.0, 1.0, &mut rng).unwrap();
            let rty = weight_image_adjoint(&y, 100, 784, &cfg).unwrap();
            let dot = |a: &[f32], b: &[f32]| -> f64 {
                a.iter().zip(b).map(|(&p, &q)| p as f64 * q as f64).sum()
            };
            let (lhs, rhs) = (dot(rx.data(), y.data()), dot(x.data(), rty.data()));
            // Both sides are ~1e1 in size; f32 rounding of ~1e4 products leaves ~1e-4.
            assert!(
                (lhs - rhs).abs() < 1e-3 * lhs.abs().max(1.0),
                "{mode:?}: {lhs} vs {rhs}"
            );
        }
    }
}

#[test]
fn gradcam_heat_is_zero_exactly_where_the_bilinear_image_reads_nothing() {
    let e = enn(21);
    let w = w1(22);
    let read = bilinear_read_set(100, 784, 0.15);
    let cam = enn_gradcam(&e, &w, CamMethod::GradCam).unwrap();
    for (name, map) in [("heat", &cam.heat), ("saliency", &cam.saliency)] {
        let outside = map
            .data()
            .iter()
            .zip(&read)
            .filter(|&(&h, &r)| !r && h != 0.0)
            .count();
        assert_eq!(outside, 0, "{name} on unread entries");
        let inside = map.data().iter().filter(|&&h| h > 0.0).count();
        assert!(inside > 1000, "{name}: only {inside} entries with heat");
        assert_eq!(map.data().iter().fold(0.0f32, |m, &x| m.max(x)), 1.0);
    }
    // The pixel and unit views are sums of the W1 maps over the right axis.
    assert_eq!(
        cam.heat_per_input,
        normalize_max(&column_sums(&cam.heat).unwrap())
    );
    assert_eq!(
        cam.heat_per_hidden,
        normalize_max(&row_sums(&cam.heat).unwrap())
    );
    // Only the 234 columns and 30 rows the taps read carry any.
    assert_eq!(
        cam.heat_per_input
            .data()
            .iter()
            .filter(|&&x| x > 0.0)
            .count(),
        234
    );
    assert!(
        cam.heat_per_hidden
            .data()
            .iter()
            .filter(|&&x| x > 0.0)
            .count()
            <= 30
    );
    // Gradient × weight is |W1 ⊙ ∂E/∂W1|.
    let (_, g) = e.score_and_grad_w1(&w).unwrap();
    let sal = Tensor::from_vec(
        w.data()
            .iter()
            .zip(g.data())
            .map(|(a, b)| (a * b).abs())
            .collect(),
        &[100, 784],
    )
    .unwrap();
    assert_eq!(cam.saliency, normalize_max(&sal));
}

#[test]
fn column_and_row_sums_by_hand() {
    let m = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3]).unwrap();
    assert_eq!(column_sums(&m).unwrap().data(), &[5., 7., 9.]);
    assert_eq!(row_sums(&m).unwrap().data(), &[6., 15.]);
    assert_eq!(normalize_max(&m).data()[5], 1.0);
    let zero = Tensor::zeros(&[2, 2]).unwrap();
    assert_eq!(normalize_max(&zero), zero);
}

#[test]
fn logit_gradient_norm_times_the_sigmoid_slope_is_the_score_gradient_norm() {
    for seed in 0..3 {
        let e = enn(30 + seed);
        let w = w1(40 + seed);
        let n = gradient_norms(&e, &w).unwrap();
        let (score, g) = e.score_and_grad_w1(&w).unwrap();
        assert_eq!(n.score, score);
        assert!((1.0 / (1.0 + (-n.logit).exp()) - score).abs() < 1e-6);
        let norm = g
            .data()
            .iter()
            .map(|&x| (x as f64).powi(2))
            .sum::<f64>()
            .sqrt();
        // Same backward pass up to the sigmoid's f32 slope: relative 1e-5 is ~100 ulp.
        assert!(
            (n.score_grad - norm).abs() < 1e-5 * norm,
            "{} vs {norm}",
            n.score_grad
        );
        let slope = score as f64 * (1.0 - score as f64);
        assert!((n.logit_grad * slope - norm).abs() < 1e-5 * norm);
        assert!(n.logit_grad > n.score_grad); // σ′ ≤ 1/4
    }
}

fn bits(t: &Tensor) -> Vec<u32> {
    t.data().iter().map(|v| v.to_bits()).collect()
}

/// A random image-shaped map with some exact zeros of both signs (the tape turns a −0 into
/// +0 in places; the block adjoint must not care).
fn map_with_zeros(h: usize, w: usize, rng: &mut StdRng) -> Tensor {
    let mut m = Tensor::uniform(&[h, w], -1.0, 1.0, rng).unwrap();
    for (i, v) in m.data_mut().iter_mut().enumerate() {
        match i % 7 {
            0 => *v = 0.0,
            3 => *v = -0.0,
            _ => {}
        }
    }
    m
}

/// The configurations the fast paths are checked in: every mode, with and without the mask.
fn every_image_config(cols: usize) -> Vec<WeightImageConfig> {
    let mask = InertColumns {
        threshold: DEFAULT_INERT_THRESHOLD,
        n_inputs: cols,
        columns: (0..cols).filter(|c| c % 5 == 1 || *c < 3).collect(),
    };
    let mut out = Vec::new();
    for mode in ImageMode::ALL {
        for inert in [None, Some(mask.clone())] {
            out.push(WeightImageConfig {
                mode,
                inert,
                ..WeightImageConfig::default()
            });
        }
    }
    out
}

#[test]
fn block_image_adjoint_is_the_taped_adjoint_bit_for_bit() {
    let mut rng = StdRng::seed_from_u64(0xAD);
    for (rows, cols) in [(100, 784), (20, 34), (37, 61), (7, 300)] {
        for cfg in every_image_config(cols) {
            let (h, w) = cfg.image_size(rows, cols).unwrap();
            let map = map_with_zeros(h, w, &mut rng);
            let reference = weight_image_adjoint(&map, rows, cols, &cfg).unwrap();
            let fast = weight_image_adjoint_block(&map, rows, cols, &cfg).unwrap();
            assert_eq!(fast.dims(), [rows, cols]);
            let bilinear = cfg.mode == ImageMode::Bilinear;
            assert_eq!(fast.is_dense(), !bilinear, "{rows}x{cols} {cfg:?}");
            // The (1, 1, h, w) form of the map, as the ENN's input gradient comes, is the same.
            let map4 = map.clone().reshape(&[1, 1, h, w]).unwrap();
            let fast4 = weight_image_adjoint_block(&map4, rows, cols, &cfg).unwrap();
            assert_eq!(fast4, fast);
            let dense = fast.into_tensor().unwrap();
            assert_eq!(bits(&dense), bits(&reference), "{rows}x{cols} {cfg:?}");
        }
    }
    // The MNIST W1's bilinear block: 30 rows × 234 columns, 9 % of W1.
    let map = map_with_zeros(15, 117, &mut rng);
    let cfg = WeightImageConfig::default();
    let g = weight_image_adjoint_block(&map, 100, 784, &cfg).unwrap();
    assert_eq!(
        (g.rows().len(), g.cols().len(), g.block().len()),
        (30, 234, 7020)
    );
    let wrong = Tensor::zeros(&[15, 116]).unwrap();
    assert!(weight_image_adjoint_block(&wrong, 100, 784, &cfg).is_err());
}

/// The ENN's gradient by one tape from W1 (W1 a parameter under the image), as
/// `score_and_grad_w1` computed it before it split the chain at the image.
fn score_and_grad_w1_one_tape(e: &EvaluationNet, w: &Tensor) -> (f32, Tensor) {
    let mut tape = Tape::new();
    let vars = e.bind(&mut tape, false);
    let wv = tape.param(w);
    let img = weight_image_with(&mut tape, wv, &e.image).unwrap();
    let out = e.forward(&mut tape, &vars, img).unwrap();
    let score = tape.item(out.score).unwrap();
    let mut g = tape.backward(out.score).unwrap();
    (score, g.take(wv).unwrap())
}

#[test]
fn enn_w1_gradient_through_the_image_equals_the_one_tape_gradient_bit_for_bit() {
    for (rows, cols, seed) in [(100, 784, 1), (20, 34, 2), (37, 61, 3)] {
        let w =
            Tensor::uniform(&[rows, cols], -0.2, 0.2, &mut StdRng::seed_from_u64(seed)).unwrap();
        for cfg in every_image_config(cols) {
            let mut e = enn(seed + 10);
            e.image = cfg.clone();
            let (score, grad) = score_and_grad_w1_one_tape(&e, &w);
            let (fast_score, fast) = e.score_and_w1_gradient(&w).unwrap();
            assert_eq!(fast_score.to_bits(), score.to_bits(), "{cfg:?}");
            assert_eq!(
                bits(&fast.clone().into_tensor().unwrap()),
                bits(&grad),
                "{cfg:?}"
            );
            let (s2, dense) = e.score_and_grad_w1(&w).unwrap();
            assert_eq!((s2.to_bits(), bits(&dense)), (score.to_bits(), bits(&grad)));
        }
    }
}

/// The score and the dense gradient by one tape, or its error.
fn one_tape(e: &EvaluationNet, w: &Tensor) -> grad_instructor::Result<(u32, Vec<u32>)> {
    let mut tape = Tape::new();
    let vars = e.bind(&mut tape, false);
    let wv = tape.param(w);
    let img = weight_image_with(&mut tape, wv, &e.image)?;
    let out = e.forward(&mut tape, &vars, img)?;
    let score = tape.item(out.score)?;
    let g = tape.backward(out.score)?.take(wv).unwrap();
    Ok((score.to_bits(), bits(&g)))
}

/// ENNs and W1s that take every branch of the tape-free frozen ENN (`instructor/frozen.rs`).
fn frozen_enn_cases() -> Vec<(&'static str, EvaluationNet, Tensor)> {
    let (base, w) = (enn(31), w1(32));
    let read = bilinear_read_set(100, 784, 0.15);
    let first_read = read.iter().position(|&r| r).unwrap();
    let with = |f: &dyn Fn(&mut EvaluationNet)| {
        let mut e = base.clone();
        f(&mut e);
        e
    };
    let poke = |v: f32| {
        let mut w = w.clone();
        w.data_mut()[first_read] = v;
        w
    };
    let small = |r, c, seed| Tensor::uniform(&[r, c], -0.2, 0.2, &mut StdRng::seed_from_u64(seed));
    vec![
        ("default", base.clone(), w.clone()),
        // ReLUs off everywhere on a zero image (zeros of both signs, ties in every window).
        (
            "dead conv1",
            with(&|e| e.conv1.bias.data_mut().fill(-1.0)),
            w.mul_scalar(0.0),
        ),
        (
            "dead conv2",
            with(&|e| e.conv2.bias.data_mut().fill(-5.0)),
            w.clone(),
        ),
        (
            "dead fc1",
            with(&|e| e.fc1.bias.data_mut().fill(-5.0)),
            w.clone(),
        ),
        ("negative zeros", base.clone(), w.mul_scalar(-0.0)),
        ("NaN pixel", base.clone(), poke(f32::NAN)),
        ("infinite pixel", base.clone(), poke(f32::INFINITY)),
        // 14 × 20 → a 2 × 3 image: conv2's 32 outputs are under the tape's fresh-adjoint size.
        ("2x3 image", base.clone(), small(14, 20, 33).unwrap()),
        ("3x2 image", base.clone(), small(20, 14, 34).unwrap()),
        (
            "1x1 image (an error)",
            base.clone(),
            small(13, 13, 35).unwrap(),
        ),
        ("conv1 stride 2", with(&|e| e.conv1.stride = 2), w.clone()),
        ("conv2 unpadded", with(&|e| e.conv2.pad = 0), w.clone()),
        // A hidden layer of 70 (the tape's fresh adjoint from 64 elements on).
        (
            "fc 70 wide",
            with(&|e| {
                let rng = &mut StdRng::seed_from_u64(36);
                e.fc1 = Linear::new(32, 70, Init::PytorchDefault, rng).unwrap();
                e.fc2 = Linear::new(70, 1, Init::PytorchDefault, rng).unwrap();
            }),
            w.clone(),
        ),
        (
            "two outputs (an error: not a score)",
            with(&|e| {
                let rng = &mut StdRng::seed_from_u64(37);
                e.fc2 = Linear::new(32, 2, Init::PytorchDefault, rng).unwrap();
            }),
            w.clone(),
        ),
    ]
}

#[test]
fn frozen_enn_gradient_equals_the_tape_bit_for_bit_on_every_branch() {
    for (what, e, w) in frozen_enn_cases() {
        let fast = e.score_and_w1_gradient(&w).map(|(s, g)| {
            let dense = g.into_tensor().unwrap();
            (s.to_bits(), bits(&dense))
        });
        match (fast, one_tape(&e, &w)) {
            (Ok(fast), Ok(tape)) => assert!(fast == tape, "{what}"),
            (Err(_), Err(_)) if what.contains("an error") => {}
            (fast, tape) => panic!("{what}: {:?} vs {:?}", fast.err(), tape.err()),
        }
    }
}

#[test]
fn w1_gradient_sgd_step_then_add_scaled_equals_the_two_passes_bit_for_bit() {
    // The reference: `Sgd::step` on a layer holding W1, then the dense add. W1 and the
    // loss gradient hold zeros of both signs (w − η·0 keeps a −0 that α·0 may turn +0).
    let mut rng = StdRng::seed_from_u64(0x5D);
    let cfg = WeightImageConfig::default();
    let map = map_with_zeros(15, 117, &mut rng);
    let block = weight_image_adjoint_block(&map, 100, 784, &cfg).unwrap();
    let dense = block.clone().into_tensor().unwrap();
    let loss_grad = map_with_zeros(100, 784, &mut rng);
    let mut w = w1(7);
    for i in (0..w.numel()).step_by(89) {
        w.data_mut()[i] = -0.0;
    }
    let alphas = [0.01, -0.01, 0.0, -0.0, f32::INFINITY, f32::NAN];
    for g in [block, W1Gradient::dense(dense.clone()).unwrap()] {
        for (lr, alpha) in [0.01, -0.01, 0.0]
            .into_iter()
            .flat_map(|lr| alphas.map(|a| (lr, a)))
        {
            let mut layer = Linear {
                weight: w.clone(),
                bias: Tensor::zeros(&[100]).unwrap(),
            };
            let zero_bias = Tensor::zeros(&[100]).unwrap();
            Sgd::new(lr)
                .step(&mut layer, &[&loss_grad, &zero_bias])
                .unwrap();
            layer.weight.add_scaled_(alpha, &dense).unwrap();
            let mut fast = w.clone();
            g.sgd_step_then_add_scaled(&mut fast, &loss_grad, lr, alpha)
                .unwrap();
            let what = format!("lr {lr}, alpha {alpha}, dense {}", g.is_dense());
            assert_eq!(bits(&fast), bits(&layer.weight), "{what}");
        }
    }
    let mut wrong = Tensor::zeros(&[100, 783]).unwrap();
    assert!(W1Gradient::dense(dense.clone())
        .unwrap()
        .sgd_step_then_add_scaled(&mut wrong, &loss_grad, 0.1, 0.1)
        .is_err());
}

#[test]
fn w1_gradient_add_scaled_to_equals_the_dense_add_bit_for_bit() {
    // Entries of W1 that are −0 outside the block turn +0 under the dense add when α·0 is
    // +0, and everything turns NaN when α is infinite or NaN: the block path must agree.
    let mut rng = StdRng::seed_from_u64(0xADD);
    let cfg = WeightImageConfig::default();
    let map = map_with_zeros(15, 117, &mut rng);
    let g = weight_image_adjoint_block(&map, 100, 784, &cfg).unwrap();
    assert!(!g.is_dense());
    let dense = g.clone().into_tensor().unwrap();
    let alphas = [
        0.01,
        -0.01,
        0.0,
        -0.0,
        3.0,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
    ];
    for neg_zeros in [false, true] {
        let mut w = w1(5);
        if neg_zeros {
            // −0 inside and outside the block (row 0 is outside it, row 3 inside).
            for i in (0..w.numel()).step_by(97) {
                w.data_mut()[i] = -0.0;
            }
        }
        for alpha in alphas {
            let (mut fast, mut reference) = (w.clone(), w.clone());
            g.add_scaled_to(alpha, &mut fast).unwrap();
            reference.add_scaled_(alpha, &dense).unwrap();
            assert_eq!(
                bits(&fast),
                bits(&reference),
                "alpha {alpha}, -0: {neg_zeros}"
            );
        }
    }
    let mut wrong = Tensor::zeros(&[100, 783]).unwrap();
    assert!(g.add_scaled_to(1.0, &mut wrong).is_err());
    // A dense gradient adds like add_scaled_.
    let d = W1Gradient::dense(dense.clone()).unwrap();
    assert!(d.is_dense());
    let (mut fast, mut reference) = (w1(6), w1(6));
    d.add_scaled_to(0.3, &mut fast).unwrap();
    reference.add_scaled_(0.3, &dense).unwrap();
    assert_eq!(bits(&fast), bits(&reference));
}
