//! Whole models: gradients of an MLP and a small CNN against finite differences, training
//! sanity checks (XOR; a CNN fitting a tiny batch), optimizers against hand-computed steps,
//! and the flat-memory property of the tape.

mod common;

use common::temp_dir;
use grad_instructor::autodiff::gradcheck::check_gradients;
use grad_instructor::autodiff::Tape;
use grad_instructor::nn::loss::{cross_entropy, l1_penalty};
use grad_instructor::nn::{Activation, Adam, Conv2d, Init, Linear, LinearVars, Mlp, Module, Sgd};
use grad_instructor::{impl_module, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

/// h = 1e-2 with atol 2e-3 / rtol 2e-2: see `autodiff::gradcheck` (f32 forward, O(1) values).
const H: f32 = 1e-2;
const ATOL: f64 = 2e-3;
const RTOL: f64 = 2e-2;

#[test]
fn grad_mlp_wrt_params_and_input_matches_finite_difference() {
    let mut rng = StdRng::seed_from_u64(20);
    // tanh keeps the function smooth, so no kink lies within h of an evaluation point.
    let mlp = Mlp::new(
        &[5, 4, 3],
        Activation::Tanh,
        Init::PytorchDefaultScaled(2.0),
        &mut rng,
    )
    .unwrap();
    let x = Tensor::uniform(&[2, 5], -1.0, 1.0, &mut rng).unwrap();
    let labels = [2u32, 0];
    let mut inputs = vec![x];
    inputs.extend(mlp.params().into_iter().cloned());
    let report = check_gradients(&inputs, H, ATOL, RTOL, |t, v| {
        let vars = [
            LinearVars {
                weight: v[1],
                bias: v[2],
            },
            LinearVars {
                weight: v[3],
                bias: v[4],
            },
        ];
        let logits = mlp.forward(t, &vars, v[0])?;
        let ce = cross_entropy(t, logits, &labels)?;
        let l1 = l1_penalty(t, &[v[1], v[3]], 1e-2)?;
        t.add(ce, l1)
    })
    .unwrap();
    assert!(report.passed(), "{report:?}");
    assert_eq!(report.checked, 2 * 5 + 4 * 5 + 4 + 3 * 4 + 3);
}

#[test]
fn grad_small_cnn_wrt_params_and_input_matches_finite_difference() {
    // conv-relu-pool-conv-gap-linear, the ENN's structure in miniature.
    let mut rng = StdRng::seed_from_u64(21);
    let c1 = Conv2d::new(1, 2, 3, 1, 1, Init::PytorchDefault, &mut rng).unwrap();
    let c2 = Conv2d::new(2, 3, 3, 1, 1, Init::PytorchDefault, &mut rng).unwrap();
    let fc = Linear::new(3, 1, Init::PytorchDefault, &mut rng).unwrap();
    let x = Tensor::uniform(&[1, 1, 6, 7], -1.0, 1.0, &mut rng).unwrap();
    let inputs = vec![
        x,
        c1.weight.clone(),
        c1.bias.clone(),
        c2.weight.clone(),
        c2.bias.clone(),
        fc.weight.clone(),
        fc.bias.clone(),
    ];
    let f = |t: &mut Tape<'_>, v: &[grad_instructor::Var]| {
        let a = t.conv2d(v[0], v[1], Some(v[2]), 1, 1)?;
        // tanh instead of relu and avg instead of max pooling: smooth everywhere, so central
        // differences are valid at any random point (relu/max-pool rules are checked op by op
        // at points chosen away from their kinks in autodiff_gradcheck.rs).
        let a = t.tanh(a);
        let p = t.avg_pool2d(a, 2, 2)?;
        let b = t.conv2d(p, v[3], Some(v[4]), 1, 1)?;
        let b = t.tanh(b);
        let g = t.global_avg_pool(b)?;
        let y = Linear::forward(
            t,
            LinearVars {
                weight: v[5],
                bias: v[6],
            },
            g,
        )?;
        let s = t.sigmoid(y);
        Ok(t.sum(s))
    };
    let report = check_gradients(&inputs, H, ATOL, RTOL, f).unwrap();
    assert!(report.passed(), "{report:?}");
}

#[test]
fn mlp_learns_xor() {
    let mut rng = StdRng::seed_from_u64(22);
    let mut mlp = Mlp::new(&[2, 8, 2], Activation::Tanh, Init::Xavier, &mut rng).unwrap();
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2]).unwrap();
    let labels = [0u32, 1, 1, 0];
    let mut opt = Sgd::with_momentum(0.1, 0.9, 0.0);
    let mut last = f32::INFINITY;
    for _ in 0..500 {
        let grads: Vec<Tensor>;
        {
            let mut tape = Tape::new();
            let vars = mlp.bind(&mut tape);
            let xv = tape.constant_ref(&x);
            let logits = mlp.forward(&mut tape, &vars, xv).unwrap();
            let loss = cross_entropy(&mut tape, logits, &labels).unwrap();
            last = tape.item(loss).unwrap();
            let mut g = tape.backward(loss).unwrap();
            grads = mlp.grads(&tape, &mut g).unwrap();
        }
        opt.step(&mut mlp, &grads).unwrap();
    }
    assert!(last < 0.05, "XOR loss after 500 steps: {last}");
    assert_eq!(mlp.accuracy(x.data(), &labels).unwrap(), 1.0);
}

#[test]
fn small_cnn_fits_a_tiny_fixed_batch() {
    let mut rng = StdRng::seed_from_u64(23);
    struct Net {
        c1: Conv2d,
        fc: Linear,
    }
    impl_module!(Net { c1, fc });
    let mut net = Net {
        c1: Conv2d::new(1, 4, 3, 1, 1, Init::He, &mut rng).unwrap(),
        fc: Linear::new(4, 3, Init::PytorchDefault, &mut rng).unwrap(),
    };
    let x = Tensor::uniform(&[6, 1, 6, 6], -1.0, 1.0, &mut rng).unwrap();
    let labels = [0u32, 1, 2, 0, 1, 2];
    let mut opt = Adam::new(0.03);
    let mut first = None;
    let mut last = 0.0;
    for _ in 0..400 {
        let (loss_value, grads) = {
            let mut tape = Tape::new();
            let cv = net.c1.bind(&mut tape, true);
            let fv = net.fc.bind(&mut tape, true);
            let xv = tape.constant_ref(&x);
            let a = net.c1.forward(&mut tape, cv, xv).unwrap();
            let a = tape.relu(a);
            let p = tape.max_pool2d(a, 2, 2).unwrap();
            let g = tape.global_avg_pool(p).unwrap();
            let logits = Linear::forward(&mut tape, fv, g).unwrap();
            let loss = cross_entropy(&mut tape, logits, &labels).unwrap();
            let mut gr = tape.backward(loss).unwrap();
            (tape.item(loss).unwrap(), net.grads(&tape, &mut gr).unwrap())
        };
        first.get_or_insert(loss_value);
        last = loss_value;
        opt.step(&mut net, &grads).unwrap();
    }
    assert!(last < 0.05, "loss went from {first:?} to {last}");
}

#[test]
fn sgd_and_adam_match_hand_computed_steps() {
    let mut p = Tensor::from_vec(vec![1.0, -2.0], &[2]).unwrap();
    let g = Tensor::from_vec(vec![0.5, 0.25], &[2]).unwrap();
    // Plain SGD: p − η g.
    Sgd::new(0.1).step(&mut p, &[&g]).unwrap();
    assert_eq!(p.data(), &[1.0 - 0.05, -2.0 - 0.025]);
    // Momentum 0.9, two steps with the same g: v₁ = g, v₂ = 0.9 g + g = 1.9 g.
    let mut q = Tensor::from_vec(vec![0.0, 0.0], &[2]).unwrap();
    let mut sgd = Sgd::with_momentum(1.0, 0.9, 0.0);
    sgd.step(&mut q, &[&g]).unwrap();
    sgd.step(&mut q, &[&g]).unwrap();
    assert!((q.data()[0] + 2.9 * 0.5).abs() < 1e-6);
    // Adam's first step is −η·sign(g) (m̂ = g, v̂ = g², up to ε).
    let mut r = Tensor::from_vec(vec![0.0, 0.0], &[2]).unwrap();
    Adam::new(0.01).step(&mut r, &[&g]).unwrap();
    assert!(r.data().iter().all(|&x| (x + 0.01).abs() < 1e-6));
    // Mismatched shapes are a typed error, not a panic.
    let bad = Tensor::zeros(&[3]).unwrap();
    assert!(Sgd::new(0.1).step(&mut p, &[&bad]).is_err());
    // So is a wrong number of gradients.
    assert!(Sgd::new(0.1).step(&mut p, &[&g, &g]).is_err());
    // A rejected step changes neither the parameters nor the optimizer's state.
    let before = p.clone();
    let mut adam = Adam::new(0.01);
    assert!(adam.step(&mut p, &[&bad]).is_err());
    assert_eq!((adam.t, adam.m.len(), adam.v.len()), (0, 0, 0));
    let mut sgd = Sgd::with_momentum(0.1, 0.9, 0.0);
    assert!(sgd.step(&mut p, &[&bad]).is_err());
    assert_eq!(p, before);
}

#[test]
fn tape_len_flat_over_1000_steps() {
    let mut rng = StdRng::seed_from_u64(24);
    let mut mlp = Mlp::new(&[4, 4], Activation::Relu, Init::PytorchDefault, &mut rng).unwrap();
    let x = Tensor::uniform(&[1, 4], -1.0, 1.0, &mut rng).unwrap();
    let mut sgd = Sgd::new(0.01);
    let mut lens = Vec::new();
    for _ in 0..1000 {
        let mut tape = Tape::with_capacity(8);
        let vars = mlp.bind(&mut tape);
        let xv = tape.constant_ref(&x);
        let y = mlp.forward(&mut tape, &vars, xv).unwrap();
        let loss = tape
            .softmax_cross_entropy(y, &[rng.gen_range(0..4)])
            .unwrap();
        let mut g = tape.backward(loss).unwrap();
        lens.push((tape.len(), tape.capacity()));
        let (gw, gb) = (
            g.take(vars[0].weight).unwrap(),
            g.take(vars[0].bias).unwrap(),
        );
        drop(tape);
        sgd.step(&mut mlp, &[gw, gb]).unwrap();
    }
    assert!(
        lens.iter().all(|&l| l == lens[0]),
        "tape length/capacity changed across steps"
    );
    // Reusing one tape with reset keeps the same allocation.
    let mut tape = Tape::new();
    let mut caps = Vec::new();
    for _ in 0..1000 {
        tape.reset();
        let xv = tape.constant_ref(&x);
        let y = tape.tanh(xv);
        let _ = tape.sum(y);
        caps.push(tape.capacity());
    }
    assert!(caps.iter().all(|&c| c == caps[0]));
}

fn small_mlp(seed: u64) -> Mlp {
    let mut rng = StdRng::seed_from_u64(seed);
    Mlp::new(&[3, 4, 2], Activation::Relu, Init::He, &mut rng).unwrap()
}

#[test]
fn module_params_are_the_fields_in_order_with_dotted_names() {
    let mlp = small_mlp(30);
    let named = mlp.named_params();
    let names: Vec<&str> = named.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        [
            "layers.0.weight",
            "layers.0.bias",
            "layers.1.weight",
            "layers.1.bias"
        ]
    );
    let expected = [
        &mlp.layers[0].weight,
        &mlp.layers[0].bias,
        &mlp.layers[1].weight,
        &mlp.layers[1].bias,
    ];
    for ((_, t), e) in named.iter().zip(expected) {
        assert!(
            std::ptr::eq(*t, e),
            "named_params must borrow the fields themselves"
        );
    }
    assert_eq!(mlp.num_scalars(), 4 * 3 + 4 + 2 * 4 + 2);
    // A list of tensors is a module too: elements named by index.
    let (a, b) = (Tensor::zeros(&[2]).unwrap(), Tensor::zeros(&[1]).unwrap());
    let names: Vec<String> = vec![a, b]
        .named_params()
        .into_iter()
        .map(|(n, _)| n)
        .collect();
    assert_eq!(names, ["0", "1"]);
}

#[test]
fn load_named_replaces_by_name_and_rejects_bad_sets_without_changing_anything() {
    let source = small_mlp(31);
    let mut target = small_mlp(32);
    assert_ne!(source, target);
    let owned = |m: &Mlp| -> Vec<(String, Tensor)> {
        m.named_params()
            .into_iter()
            .map(|(n, t)| (n, t.clone()))
            .collect()
    };
    // Any order is accepted.
    let mut reversed = owned(&source);
    reversed.reverse();
    target.load_named(reversed).unwrap();
    assert_eq!(source, target);

    let fresh = small_mlp(33);
    let mut t = fresh.clone();
    let mut missing = owned(&source);
    missing.pop();
    let err = t.load_named(missing).unwrap_err().to_string();
    assert!(err.contains("missing tensor \"layers.1.bias\""), "{err}");
    let mut unknown = owned(&source);
    unknown.push(("layers.2.weight".into(), Tensor::zeros(&[1]).unwrap()));
    let err = t.load_named(unknown).unwrap_err().to_string();
    assert!(err.contains("unknown tensor \"layers.2.weight\""), "{err}");
    let mut twice = owned(&source);
    twice.push(twice[0].clone());
    let err = t.load_named(twice).unwrap_err().to_string();
    assert!(err.contains("given twice"), "{err}");
    let mut bad_shape = owned(&source);
    bad_shape[2].1 = Tensor::zeros(&[4, 2]).unwrap();
    let err = t.load_named(bad_shape).unwrap_err().to_string();
    assert!(err.contains("\"layers.1.weight\" shaped [2, 4]"), "{err}");
    assert_eq!(t, fresh, "a rejected load must leave the module unchanged");
}

#[test]
fn module_grads_find_each_parameter_by_identity_on_the_tape() {
    let mlp = small_mlp(34);
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 1.0, 0.0, -0.5], &[2, 3]).unwrap();
    let labels = [1, 0];
    let (_, expected) = mlp.loss_and_grads(&x, &labels, 0.0).unwrap();
    let mut tape = Tape::new();
    let vars = mlp.bind(&mut tape);
    let xv = tape.constant_ref(&x);
    let logits = mlp.forward(&mut tape, &vars, xv).unwrap();
    let loss = cross_entropy(&mut tape, logits, &labels).unwrap();
    let mut g = tape.backward(loss).unwrap();
    assert_eq!(mlp.grads(&tape, &mut g).unwrap(), expected);
    // The gradients were taken out: asking again is an error naming the parameter.
    let err = mlp.grads(&tape, &mut g).unwrap_err().to_string();
    assert!(err.contains("layers.0.weight"), "{err}");
    // A parameter bound twice has no single leaf: an error, not half a gradient.
    let mut tape = Tape::new();
    let w = tape.param(&mlp.layers[0].weight);
    let w2 = tape.param(&mlp.layers[0].weight);
    assert!(tape.leaf_of(&mlp.layers[0].weight).is_none());
    let s = tape.add(w, w2).unwrap();
    let root = tape.sum(s);
    let mut g = tape.backward(root).unwrap();
    assert!(mlp.layers[0].weight.grads(&tape, &mut g).is_err());
    // An equal but distinct tensor is not the bound one.
    let copy = mlp.layers[1].bias.clone();
    let mut tape = Tape::new();
    tape.param(&mlp.layers[1].bias);
    assert!(tape.leaf_of(&copy).is_none());
}

#[test]
fn optimizer_step_on_a_module_equals_the_step_on_its_tensor_list() {
    let x = Tensor::from_vec(vec![0.5, -1.0, 2.0, 1.0, 0.0, -0.5], &[2, 3]).unwrap();
    let (mut a, mut b) = (small_mlp(35), small_mlp(35));
    let (mut sa, mut sb) = (
        Sgd::with_momentum(0.1, 0.9, 1e-3),
        Sgd::with_momentum(0.1, 0.9, 1e-3),
    );
    let (mut aa, mut ab) = (Adam::new(0.01), Adam::new(0.01));
    for _ in 0..3 {
        let (_, g) = a.loss_and_grads(&x, &[1, 0], 0.0).unwrap();
        sa.step(&mut a, &g).unwrap();
        aa.step(&mut a, &g).unwrap();
        let refs: Vec<&Tensor> = g.iter().collect();
        sb.step(&mut b.params_mut(), &refs).unwrap();
        ab.step(&mut b.params_mut(), &refs).unwrap();
    }
    assert_eq!(a, b); // bit for bit
}

#[test]
fn save_and_load_by_name_through_safetensors_round_trips() {
    use grad_instructor::io::safetensors;
    let dir = temp_dir("module");
    let path = dir.join("mlp.safetensors");
    let source = small_mlp(36);
    source
        .with_named_params(|named| safetensors::save(&path, named, &[]))
        .unwrap();
    let mut loaded = small_mlp(37);
    loaded
        .load_named(safetensors::load(&path).unwrap().tensors)
        .unwrap();
    assert_eq!(loaded, source);
    std::fs::remove_dir_all(&dir).unwrap();
}
