//! Every backward rule against central finite differences (see `autodiff::gradcheck` for why
//! h = 1e-2 with atol 2e-3 / rtol 2e-2 holds in f32 for O(1) values and smooth functions).
//! Each function ends in a random projection `Σ r ⊙ y` (not a plain sum) so that every output
//! element's adjoint differs and a transposed or misrouted gradient cannot cancel out.

use grad_instructor::autodiff::gradcheck::check_gradients;
use grad_instructor::autodiff::{ResizeTo, Tape, Var};
use grad_instructor::kernels::resize::ResizeMode;
use grad_instructor::{Result, Tensor};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const H: f32 = 1e-2;
const ATOL: f64 = 2e-3;
const RTOL: f64 = 2e-2;

fn rand_tensor(rng: &mut StdRng, dims: &[usize]) -> Tensor {
    Tensor::uniform(dims, -1.0, 1.0, rng).unwrap()
}

/// Values in ±[0.2, 1]: keeps relu/abs/max ≥ 0.2 away from their kinks, far beyond h = 1e-2.
fn away_from_zero(rng: &mut StdRng, dims: &[usize]) -> Tensor {
    let mut t = Tensor::zeros(dims).unwrap();
    for x in t.data_mut() {
        let m: f32 = rng.gen_range(0.2..1.0);
        *x = if rng.gen::<bool>() { m } else { -m };
    }
    t
}

/// `Σ r ⊙ y` with a fixed random r (seeded from y's shape so every evaluation uses the same r).
fn project(tape: &mut Tape<'_>, y: Var) -> Result<Var> {
    let dims = tape.value(y).dims().to_vec();
    let mut rng = StdRng::seed_from_u64(dims.iter().fold(17, |a, &d| a * 31 + d as u64));
    let r = tape.constant(rand_tensor(&mut rng, &dims));
    let prod = tape.mul(y, r)?;
    Ok(tape.sum(prod))
}

fn assert_grads(name: &str, inputs: &[Tensor], f: impl Fn(&mut Tape<'_>, &[Var]) -> Result<Var>) {
    assert_grads_with(name, inputs, H, f)
}

fn assert_grads_with(
    name: &str,
    inputs: &[Tensor],
    h: f32,
    f: impl Fn(&mut Tape<'_>, &[Var]) -> Result<Var>,
) {
    let report = check_gradients(inputs, h, ATOL, RTOL, f).unwrap();
    assert!(
        report.passed(),
        "{name}: gradient mismatch {report:?} (shapes {:?})",
        inputs.iter().map(|t| t.dims().to_vec()).collect::<Vec<_>>()
    );
}

fn shapes(rng: &mut StdRng, n: usize) -> Vec<(usize, usize)> {
    let mut v = vec![(1, 1), (1, 5), (3, 1)];
    while v.len() < n {
        v.push((rng.gen_range(1..7), rng.gen_range(1..7)));
    }
    v
}

#[test]
fn grad_matmul_all_transposes_match_finite_difference() {
    let mut rng = StdRng::seed_from_u64(1);
    for _ in 0..6 {
        let (m, k, n) = (
            rng.gen_range(1..6),
            rng.gen_range(1..6),
            rng.gen_range(1..6),
        );
        for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
            let a = rand_tensor(&mut rng, &if ta { [k, m] } else { [m, k] });
            let b = rand_tensor(&mut rng, &if tb { [n, k] } else { [k, n] });
            assert_grads(
                &format!("matmul m{m} k{k} n{n} ta{ta} tb{tb}"),
                &[a, b],
                |t, v| {
                    let y = t.matmul_t(v[0], ta, v[1], tb)?;
                    project(t, y)
                },
            );
        }
    }
}

#[test]
fn grad_binary_ops_with_and_without_row_broadcast_match_finite_difference() {
    let mut rng = StdRng::seed_from_u64(2);
    for (m, n) in shapes(&mut rng, 6) {
        for op in 0..4 {
            for row in [false, true] {
                let a = rand_tensor(&mut rng, &[m, n]);
                let b_dims: Vec<usize> = if row { vec![n] } else { vec![m, n] };
                // Divisors in ±[0.5, 1.5]: 1/b stays smooth on the scale of h.
                let b = if op == 3 {
                    away_from_zero(&mut rng, &b_dims).map(|x| x * 1.5 + x.signum() * 0.2)
                } else {
                    rand_tensor(&mut rng, &b_dims)
                };
                assert_grads(
                    &format!("binary op {op} row {row} {m}x{n}"),
                    &[a, b],
                    |t, v| {
                        let y = match op {
                            0 => t.add(v[0], v[1])?,
                            1 => t.sub(v[0], v[1])?,
                            2 => t.mul(v[0], v[1])?,
                            _ => t.div(v[0], v[1])?,
                        };
                        project(t, y)
                    },
                );
            }
        }
    }
}

#[test]
fn grad_value_used_twice_accumulates() {
    // y = x ⊙ x + x: ∂y/∂x = 2x + 1, which needs both uses summed (micrograd's b = a + a test).
    let mut rng = StdRng::seed_from_u64(3);
    let x = rand_tensor(&mut rng, &[3, 4]);
    assert_grads("reuse", std::slice::from_ref(&x), |t, v| {
        let sq = t.mul(v[0], v[0])?;
        let y = t.add(sq, v[0])?;
        let z = t.add(y, y)?;
        project(t, z)
    });
    let mut tape = Tape::new();
    let xv = tape.leaf(x.clone(), true);
    let b = tape.add(xv, xv).unwrap();
    let c = tape.add(b, b).unwrap();
    let s = tape.sum(c);
    let g = tape.backward(s).unwrap();
    assert!(g.get(xv).unwrap().data().iter().all(|&d| d == 4.0));
}

#[test]
fn grad_scalar_and_unary_ops_match_finite_difference() {
    let mut rng = StdRng::seed_from_u64(4);
    for (m, n) in shapes(&mut rng, 5) {
        let x = away_from_zero(&mut rng, &[m, n]);
        let pos = x.abs().add_scalar(0.3); // log needs x > 0; ≥ 0.5 keeps 1/x smooth at h
        let cases: [(&str, &Tensor); 8] = [
            ("relu", &x),
            ("sigmoid", &x),
            ("tanh", &x),
            ("exp", &x),
            ("log", &pos),
            ("abs", &x),
            ("add_scalar", &x),
            ("mul_scalar", &x),
        ];
        for (name, input) in cases {
            assert_grads(
                &format!("{name} {m}x{n}"),
                std::slice::from_ref(input),
                |t, v| {
                    let y = match name {
                        "relu" => t.relu(v[0]),
                        "sigmoid" => t.sigmoid(v[0]),
                        "tanh" => t.tanh(v[0]),
                        "exp" => t.exp(v[0]),
                        "log" => t.log(v[0]),
                        "abs" => t.abs(v[0]),
                        "add_scalar" => t.add_scalar(v[0], 0.7),
                        _ => t.mul_scalar(v[0], -2.5),
                    };
                    project(t, y)
                },
            );
        }
    }
}

#[test]
fn grad_reductions_match_finite_difference() {
    let mut rng = StdRng::seed_from_u64(5);
    for dims in [vec![4], vec![2, 3], vec![2, 3, 4], vec![2, 1, 3, 2]] {
        let x = rand_tensor(&mut rng, &dims);
        assert_grads("sum", std::slice::from_ref(&x), |t, v| {
            let s = t.mul_scalar(v[0], 1.5);
            Ok(t.sum(s))
        });
        assert_grads("mean", std::slice::from_ref(&x), |t, v| {
            let e = t.exp(v[0]);
            Ok(t.mean(e))
        });
        for axis in 0..dims.len() {
            assert_grads(
                &format!("sum_axis {axis} {dims:?}"),
                std::slice::from_ref(&x),
                |t, v| {
                    let y = t.sum_axis(v[0], axis)?;
                    project(t, y)
                },
            );
            assert_grads(
                &format!("mean_axis {axis} {dims:?}"),
                std::slice::from_ref(&x),
                |t, v| {
                    let y = t.mean_axis(v[0], axis)?;
                    project(t, y)
                },
            );
        }
    }
}

#[test]
fn grad_softmax_cross_entropy_and_mse_match_finite_difference() {
    let mut rng = StdRng::seed_from_u64(6);
    for (b, c) in [(1, 2), (3, 5), (4, 10), (2, 1)] {
        let z = rand_tensor(&mut rng, &[b, c]).mul_scalar(3.0);
        let labels: Vec<u32> = (0..b).map(|_| rng.gen_range(0..c as u32)).collect();
        assert_grads(&format!("softmax_ce {b}x{c}"), &[z], |t, v| {
            t.softmax_cross_entropy(v[0], &labels)
        });
        let a = rand_tensor(&mut rng, &[b, c]);
        let y = rand_tensor(&mut rng, &[b, c]);
        assert_grads(&format!("mse {b}x{c}"), &[a, y], |t, v| t.mse(v[0], v[1]));
    }
}

#[test]
fn softmax_cross_entropy_is_stable_for_huge_logits() {
    let z = Tensor::from_vec(vec![1000.0, 0.0, -1000.0], &[1, 3]).unwrap();
    let mut tape = Tape::new();
    let zv = tape.leaf(z, true);
    let loss = tape.softmax_cross_entropy(zv, &[1]).unwrap();
    assert!((tape.item(loss).unwrap() - 1000.0).abs() < 1e-3);
    let g = tape.backward(loss).unwrap();
    assert!(g.get(zv).unwrap().all_finite());
}

#[test]
fn grad_reshape_matches_finite_difference() {
    let mut rng = StdRng::seed_from_u64(7);
    let x = rand_tensor(&mut rng, &[2, 6]);
    assert_grads("reshape", &[x], |t, v| {
        let r = t.reshape(v[0], &[3, 4])?;
        let s = t.tanh(r);
        project(t, s)
    });
}

#[test]
fn grad_conv2d_matches_finite_difference() {
    let mut rng = StdRng::seed_from_u64(8);
    for _ in 0..6 {
        let (n, c_in, c_out) = (
            rng.gen_range(1..3),
            rng.gen_range(1..3),
            rng.gen_range(1..4),
        );
        let (kh, kw) = (rng.gen_range(1..4), rng.gen_range(1..4));
        let (stride, pad) = (rng.gen_range(1..3), rng.gen_range(0..2));
        let (h, w) = (rng.gen_range(kh..kh + 4), rng.gen_range(kw..kw + 4));
        let x = rand_tensor(&mut rng, &[n, c_in, h, w]);
        let wt = rand_tensor(&mut rng, &[c_out, c_in, kh, kw]);
        let b = rand_tensor(&mut rng, &[c_out]);
        assert_grads(
            &format!("conv2d n{n} c{c_in}->{c_out} {h}x{w} k{kh}x{kw} s{stride} p{pad}"),
            &[x, wt, b],
            |t, v| {
                let y = t.conv2d(v[0], v[1], Some(v[2]), stride, pad)?;
                project(t, y)
            },
        );
    }
}

#[test]
fn grad_pools_match_finite_difference() {
    let mut rng = StdRng::seed_from_u64(9);
    for (h, w, k, s) in [(4, 4, 2, 2), (5, 7, 2, 2), (6, 5, 3, 1), (3, 3, 3, 3)] {
        // Distinct values at spacing ≥ 0.05 ≫ 2h-perturbation would flip no argmax: build a
        // shuffled ramp so every window has a unique, well-separated maximum.
        let numel = 2 * 2 * h * w;
        let mut vals: Vec<f32> = (0..numel).map(|i| i as f32 * 0.05 - 1.0).collect();
        for i in (1..numel).rev() {
            vals.swap(i, rng.gen_range(0..=i));
        }
        let x = Tensor::from_vec(vals, &[2, 2, h, w]).unwrap();
        // h = 1e-3 < half the spacing, so no perturbation reorders a window.
        assert_grads_with(
            &format!("max_pool {h}x{w} k{k} s{s}"),
            std::slice::from_ref(&x),
            1e-3,
            |t, v| {
                let y = t.max_pool2d(v[0], k, s)?;
                project(t, y)
            },
        );
        assert_grads(
            &format!("avg_pool {h}x{w} k{k} s{s}"),
            std::slice::from_ref(&x),
            |t, v| {
                let y = t.avg_pool2d(v[0], k, s)?;
                project(t, y)
            },
        );
        assert_grads(&format!("global_avg_pool {h}x{w}"), &[x], |t, v| {
            let y = t.global_avg_pool(v[0])?;
            project(t, y)
        });
    }
}

#[test]
fn grad_bilinear_resize_matches_finite_difference() {
    let mut rng = StdRng::seed_from_u64(10);
    for (h, w, to) in [
        (10, 20, ResizeTo::Scale(0.15 * 2.0)),
        (7, 9, ResizeTo::Scale(0.5)),
        (3, 4, ResizeTo::Size(5, 7)),
        (20, 34, ResizeTo::Scale(0.15)),
    ] {
        let x = rand_tensor(&mut rng, &[h, w]);
        assert_grads(&format!("resize {h}x{w} {to:?}"), &[x], |t, v| {
            let y = t.resize(v[0], ResizeMode::Bilinear, to)?;
            project(t, y)
        });
    }
}

#[test]
fn grad_nearest_and_area_resize_match_finite_difference() {
    // Both are linear maps (a selection, a window average): the adjoint must match exactly
    // what finite differences of the forward see.
    let mut rng = StdRng::seed_from_u64(12);
    for mode in [ResizeMode::Nearest, ResizeMode::Area] {
        for (h, w, to) in [
            (10, 20, ResizeTo::Scale(0.3)),
            (7, 9, ResizeTo::Size(3, 4)),
            (3, 4, ResizeTo::Size(5, 7)),
        ] {
            let x = rand_tensor(&mut rng, &[h, w]);
            assert_grads(&format!("resize {mode:?} {h}x{w} {to:?}"), &[x], |t, v| {
                let y = t.resize(v[0], mode, to)?;
                project(t, y)
            });
        }
    }
}

#[test]
fn grad_of_intermediate_and_input_are_readable() {
    // Grad-CAM needs ∂score/∂(feature map) and the ENN needs ∂score/∂(input image).
    let mut rng = StdRng::seed_from_u64(11);
    let x = rand_tensor(&mut rng, &[1, 1, 5, 6]);
    let w = rand_tensor(&mut rng, &[2, 1, 3, 3]);
    let mut tape = Tape::new();
    let xv = tape.leaf(x, true);
    let wv = tape.constant_ref(&w);
    let a = tape.conv2d(xv, wv, None, 1, 1).unwrap();
    let p = tape.global_avg_pool(a).unwrap();
    let s = tape.sum(p);
    let g = tape.backward(s).unwrap();
    // ∂s/∂a = 1/(h·w) everywhere (global average then sum).
    assert!(g
        .get(a)
        .unwrap()
        .data()
        .iter()
        .all(|&d| (d - 1.0 / 30.0).abs() < 1e-7));
    assert_eq!(g.get(xv).unwrap().dims(), &[1, 1, 5, 6]);
    assert!(g.get(wv).is_none(), "a constant gets no gradient");
}

#[test]
fn grad_first_written_adjoints_match_finite_difference_above_64_elements() {
    // Adjoints of at least 64 elements take the path that writes the first contribution
    // instead of adding it onto zeros (Tape::accumulate_fresh); the shapes above are smaller.
    // Each op is applied once (first contribution only) and twice to the same input (the
    // second contribution is added onto the first).
    let mut rng = StdRng::seed_from_u64(12);
    let x = away_from_zero(&mut rng, &[9, 11]);
    let pos = x.abs().add_scalar(0.3);
    let names = [
        "relu",
        "sigmoid",
        "tanh",
        "exp",
        "log",
        "abs",
        "add_scalar",
        "mul_scalar",
        "reshape",
        "sum",
        "mean",
    ];
    let apply = |t: &mut Tape<'_>, name: &str, v: Var| -> Result<Var> {
        Ok(match name {
            "relu" => t.relu(v),
            "sigmoid" => t.sigmoid(v),
            "tanh" => t.tanh(v),
            "exp" => t.exp(v),
            "log" => t.log(v),
            "abs" => t.abs(v),
            "add_scalar" => t.add_scalar(v, 0.7),
            "mul_scalar" => t.mul_scalar(v, -2.5),
            "reshape" => t.reshape(v, &[11, 9])?,
            // A projection first, so each element's adjoint differs from the scalar root's.
            "sum" => {
                let p = project(t, v)?;
                let s = t.sum(v);
                t.add(p, s)?
            }
            _ => {
                let e = t.exp(v);
                t.mean(e)
            }
        })
    };
    for name in names {
        let input = if name == "log" { &pos } else { &x };
        for uses in [1, 2] {
            assert_grads(
                &format!("{name} 9x11, {uses} use(s)"),
                std::slice::from_ref(input),
                |t, v| {
                    let mut y = apply(t, name, v[0])?;
                    if uses == 2 {
                        let y2 = apply(t, name, v[0])?;
                        y = t.add(y, y2)?;
                    }
                    project(t, y)
                },
            );
        }
    }
    // Global average pooling of (2, 3, 5, 7): 210-element adjoint.
    let x = rand_tensor(&mut rng, &[2, 3, 5, 7]);
    for uses in [1, 2] {
        assert_grads(
            &format!("global_avg_pool 2x3x5x7, {uses} use(s)"),
            std::slice::from_ref(&x),
            |t, v| {
                let mut y = t.global_avg_pool(v[0])?;
                if uses == 2 {
                    let y2 = t.global_avg_pool(v[0])?;
                    y = t.add(y, y2)?;
                }
                project(t, y)
            },
        );
    }
}
