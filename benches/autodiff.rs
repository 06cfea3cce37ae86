//! Tape overhead benchmarks: `cargo bench --bench autodiff`.
//!
//! * `mlp_step/<batch>`: forward + backward of a 784-100-10 ReLU MLP (bind, record, backward,
//!   read gradients), next to `mlp_kernels/<batch>`: the same six matmuls called directly on
//!   the kernel, so the difference is what the tape and the elementwise ops cost.
//! * `tiny_sgd_step`: a (1×4)·(4×4) layer, cross-entropy, backward and an SGD update.
//! * `op_chain/<n>`: n scalar ops recorded and differentiated: per-op bookkeeping cost.
//! * `enn_score_and_grad_w1`: the frozen ENN's score and ∂score/∂W1 for a 100×784 W1 (the
//!   extra work of a universal-backprop step over plain SGD, next to `mlp_step/64`).
//!
//! Before timing, it prints the heap allocations of one step, counted by a global allocator.

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use grad_instructor::autodiff::Tape;
use grad_instructor::instructor::enn::EvaluationNet;
use grad_instructor::kernels::matmul::{sgemm, Gemm};
use grad_instructor::nn::{Activation, Init, Mlp, Sgd};
use grad_instructor::Tensor;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::hint::black_box;
use std::time::Duration;

// The allocation-counting allocator shared with the tests (one copy, in tests/common/).
#[path = "../tests/common/alloc.rs"]
mod alloc;
use alloc::{allocations_of, TrackingAlloc};

/// Counts allocations so the bench can report allocations per training step.
#[global_allocator]
static GLOBAL: TrackingAlloc = TrackingAlloc;

fn setup(batch: usize) -> (Mlp, Tensor, Vec<u32>) {
    let mut rng = StdRng::seed_from_u64(0);
    let mlp = Mlp::new(
        &[784, 100, 10],
        Activation::Relu,
        Init::PytorchDefault,
        &mut rng,
    )
    .unwrap();
    let x = Tensor::uniform(&[batch, 784], 0.0, 1.0, &mut rng).unwrap();
    let labels = (0..batch).map(|_| rng.gen_range(0..10)).collect();
    (mlp, x, labels)
}

/// The matmuls of one MLP step, straight on the kernel: forward x·W1ᵀ, h·W2ᵀ; backward
/// dW2 = dYᵀh, dH = dY·W2, dW1 = dHᵀx (dX is not needed for data).
fn mlp_kernels(batch: usize, x: &[f32], w1: &[f32], w2: &[f32], bufs: &mut [Vec<f32>; 5]) {
    let [h, y, dw2, dh, dw1] = bufs;
    sgemm(
        &Gemm {
            trans_b: true,
            ..Gemm::new(batch, 784, 100)
        },
        x,
        w1,
        h,
    );
    sgemm(
        &Gemm {
            trans_b: true,
            ..Gemm::new(batch, 100, 10)
        },
        h,
        w2,
        y,
    );
    sgemm(
        &Gemm {
            trans_a: true,
            ..Gemm::new(10, batch, 100)
        },
        y,
        h,
        dw2,
    );
    sgemm(&Gemm::new(batch, 10, 100), y, w2, dh);
    sgemm(
        &Gemm {
            trans_a: true,
            ..Gemm::new(100, batch, 784)
        },
        dh,
        x,
        dw1,
    );
}

fn bench_autodiff(c: &mut Criterion) {
    for batch in [1usize, 128] {
        let (mlp, x, labels) = setup(batch);
        let allocs = allocations_of(|| {
            black_box(mlp.loss_and_grads(&x, &labels, 0.0).unwrap());
        });
        eprintln!("allocations per 784-100-10 forward+backward, batch {batch}: {allocs}");
    }
    {
        let (mut layer, x, _) = tiny();
        let mut sgd = Sgd::new(0.1);
        let allocs = allocations_of(|| tiny_step(&mut layer, &x, &mut sgd));
        eprintln!("allocations per tiny (1x4)(4x4) SGD step: {allocs}");
    }

    let mut group = c.benchmark_group("autodiff");
    group
        .measurement_time(Duration::from_secs(2))
        .sample_size(20);
    for batch in [1usize, 128] {
        let (mlp, x, labels) = setup(batch);
        group.bench_function(BenchmarkId::new("mlp_step", batch), |b| {
            b.iter(|| black_box(mlp.loss_and_grads(&x, &labels, 0.0).unwrap()))
        });
        let (w1, w2) = (mlp.layers[0].weight.data(), mlp.layers[1].weight.data());
        let mut bufs =
            [batch * 100, batch * 10, 10 * 100, batch * 100, 100 * 784].map(|n| vec![0.0f32; n]);
        group.bench_function(BenchmarkId::new("mlp_kernels", batch), |b| {
            b.iter(|| mlp_kernels(batch, x.data(), w1, w2, &mut bufs))
        });
    }
    {
        let (mlp, x, labels) = setup(64);
        group.bench_function(BenchmarkId::new("mlp_step", 64), |b| {
            b.iter(|| black_box(mlp.loss_and_grads(&x, &labels, 0.0).unwrap()))
        });
        let enn = EvaluationNet::new(&mut StdRng::seed_from_u64(2)).unwrap();
        let w1 = &mlp.layers[0].weight;
        group.bench_function("enn_score_and_grad_w1", |b| {
            b.iter(|| black_box(enn.score_and_grad_w1(w1).unwrap()))
        });
    }
    let (mut layer, x, _) = tiny();
    let mut sgd = Sgd::new(0.1);
    group.bench_function("tiny_sgd_step", |b| {
        b.iter(|| tiny_step(&mut layer, &x, &mut sgd))
    });
    for n in [10usize, 100] {
        let x = Tensor::scalar(0.5);
        group.bench_function(BenchmarkId::new("op_chain", n), |b| {
            b.iter(|| {
                let mut tape = Tape::with_capacity(n + 2);
                let mut v = tape.leaf(x.clone(), true);
                for _ in 0..n {
                    v = tape.mul_scalar(v, 0.999);
                }
                black_box(tape.backward(v).unwrap());
            })
        });
    }
    group.finish();
}

fn tiny() -> (Mlp, Tensor, Vec<u32>) {
    let mut rng = StdRng::seed_from_u64(1);
    let layer = Mlp::new(
        &[4, 4],
        Activation::Identity,
        Init::PytorchDefault,
        &mut rng,
    )
    .unwrap();
    (
        layer,
        Tensor::uniform(&[1, 4], -1.0, 1.0, &mut rng).unwrap(),
        vec![2],
    )
}

fn tiny_step(layer: &mut Mlp, x: &Tensor, sgd: &mut Sgd) {
    let (_, grads) = layer.loss_and_grads(x, &[2], 0.0).unwrap();
    sgd.step(layer, &grads).unwrap();
}

criterion_group!(benches, bench_autodiff);
criterion_main!(benches);
