//! An MLP learns XOR, the classic function no linear model can represent.
//!
//! Each step is written out: bind the parameters to a fresh tape, record the forward pass
//! and the loss, run the reverse sweep, take the gradients, drop the tape, update with SGD.
//! (`Mlp::loss_and_grads` packages the tape part.)
//!
//! Run: `cargo run --release --example xor [-- --steps N --seed S]`

use grad_instructor::nn::{loss, Activation, Init, Mlp, Module, Sgd};
use grad_instructor::{Error, Result, Tape, Tensor};
use rand::{rngs::StdRng, SeedableRng};

fn main() {
    if let Err(e) = run() {
        eprintln!("error: {e}"); // Display: the message says what to fix
        std::process::exit(2);
    }
}

fn run() -> Result<()> {
    let (mut steps, mut seed) = (500usize, 22u64);
    let argv: Vec<String> = std::env::args().skip(1).collect();
    let usage = || Error::Usage("xor [--steps N] [--seed S]".into());
    for pair in argv.chunks(2) {
        let value = pair.get(1).ok_or_else(usage)?;
        match pair[0].as_str() {
            "--steps" => steps = value.parse().map_err(|_| usage())?,
            "--seed" => seed = value.parse().map_err(|_| usage())?,
            _ => return Err(usage()),
        }
    }

    // The four XOR cases as one batch (4 × 2); class 1 when exactly one input is 1.
    let x = Tensor::from_vec(vec![0., 0., 0., 1., 1., 0., 1., 1.], &[4, 2])?;
    let labels = [0u32, 1, 1, 0];
    // 2 → 8 → 2 with tanh: one hidden layer bends the plane enough to separate the classes.
    let mut mlp = Mlp::new(
        &[2, 8, 2],
        Activation::Tanh,
        Init::Xavier,
        &mut StdRng::seed_from_u64(seed),
    )?;
    let mut sgd = Sgd::with_momentum(0.1, 0.9, 0.0);

    for step in 0..=steps {
        let (loss_value, grads) = {
            let mut tape = Tape::new();
            let vars = mlp.bind(&mut tape); // w0, b0, w1, b1 borrowed as leaves
            let xv = tape.constant_ref(&x);
            let logits = mlp.forward(&mut tape, &vars, xv)?;
            let l = loss::cross_entropy(&mut tape, logits, &labels)?;
            let mut g = tape.backward(l)?;
            (tape.item(l)?, mlp.grads(&tape, &mut g)?) // in the order of mlp.params()
        }; // tape dropped: `mlp` is no longer borrowed and can be updated
        if step % 50 == 0 {
            println!("step {step:>4}  loss {loss_value:.5}");
        }
        if step < steps {
            sgd.step(&mut mlp, &grads)?;
        }
    }

    println!("\n x1 x2 | label | p(class 1) | predicted");
    let logits = mlp.logits(&x)?; // inference: plain tensors, no tape
    let predicted = logits.argmax_axis(1)?;
    for (i, &label) in labels.iter().enumerate() {
        let z = &logits.data()[2 * i..2 * i + 2];
        let p1 = 1.0 / (1.0 + (z[0] - z[1]).exp()); // softmax of two logits
        let (x1, x2) = (x.data()[2 * i], x.data()[2 * i + 1]);
        println!(
            "  {x1}  {x2} |   {label}   |   {p1:.4}   |    {}",
            predicted[i]
        );
    }
    let acc = mlp.accuracy(x.data(), &labels)?;
    println!("\naccuracy {:.0}%", 100.0 * acc);
    Ok(())
}
