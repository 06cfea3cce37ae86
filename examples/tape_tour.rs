//! A tour of the tape: record `f = Σ (A·B + C) ⊙ (A·B)`, print the Wengert list, run the
//! reverse sweep, and compare every adjoint with the one derived by hand.
//!
//! Y = A·B is used twice (in the sum Z = Y + C and in the product W = Z ⊙ Y), so its adjoint
//! collects two terms. With f = Σ W:
//!
//! ```text
//! W̄ = 1                 (∂ΣW/∂W)
//! Z̄ = W̄ ⊙ Y = Y         (mul rule, first input)
//! Ȳ = W̄ ⊙ Z + Z̄ = 2Y + C (mul rule, second input, plus the path through the add)
//! C̄ = Z̄ = Y             (add rule)
//! Ā = Ȳ Bᵀ,  B̄ = Aᵀ Ȳ   (matmul rule)
//! ```
//!
//! Run: `cargo run --example tape_tour`

use grad_instructor::{Result, Tape, Tensor};

/// Plain triple-loop product of row-major matrices (m×k)(k×n), independent of the tape.
fn matmul(a: &[f32], b: &[f32], m: usize, k: usize, n: usize) -> Vec<f32> {
    let mut c = vec![0.0; m * n];
    for i in 0..m {
        for j in 0..n {
            c[i * n + j] = (0..k).map(|p| a[i * k + p] * b[p * n + j]).sum();
        }
    }
    c
}

/// Transpose of a row-major r×c matrix.
fn transpose(a: &[f32], r: usize, c: usize) -> Vec<f32> {
    (0..c * r).map(|idx| a[(idx % r) * c + idx / r]).collect()
}

fn main() -> Result<()> {
    // Small integers: every product and sum below is an integer far below 2^24, so f32
    // arithmetic is exact and the tape must agree with the hand values bit for bit.
    let a = Tensor::from_vec(vec![1., 2., 0., -1., 3., 1.], &[2, 3])?;
    let b = Tensor::from_vec(vec![2., 1., 0., -1., 1., 3.], &[3, 2])?;
    let c = Tensor::from_vec(vec![1., 0., -2., 1.], &[2, 2])?;

    let mut tape = Tape::new();
    let (av, bv, cv) = (tape.param(&a), tape.param(&b), tape.param(&c));
    let y = tape.matmul(av, bv)?; // Y = A·B        [2, 2]
    let z = tape.add(y, cv)?; //     Z = Y + C      [2, 2]
    let w = tape.mul(z, y)?; //      W = Z ⊙ Y      [2, 2]  (Y used a second time)
    let f = tape.sum(w); //          f = Σ W        []
    println!("The tape (creation order = a valid order for the reverse sweep):\n{tape}");
    println!("f = {}\n", tape.item(f)?);

    let grads = tape.backward(f)?;

    // The same adjoints from the formulas in the header, with plain loops.
    let yh = matmul(a.data(), b.data(), 2, 3, 2);
    let y_bar: Vec<f32> = yh.iter().zip(c.data()).map(|(y, c)| 2.0 * y + c).collect();
    let a_bar = matmul(&y_bar, &transpose(b.data(), 3, 2), 2, 2, 3);
    let b_bar = matmul(&transpose(a.data(), 2, 3), &y_bar, 3, 2, 2);
    let checks = [
        ("∂f/∂W = 1", w, vec![1.0; 4]),
        ("∂f/∂Z = Y", z, yh.clone()),
        ("∂f/∂Y = 2Y + C", y, y_bar),
        ("∂f/∂C = Y", cv, yh),
        ("∂f/∂A = Ȳ Bᵀ", av, a_bar),
        ("∂f/∂B = Aᵀ Ȳ", bv, b_bar),
    ];
    println!(
        "{:<16} {:<5} {:<37} by hand",
        "adjoint", "node", "from the tape"
    );
    for (name, var, hand) in checks {
        let tape_grad = grads.get(var).expect("every node here lies on a path to f");
        println!(
            "{name:<16} %{:<4} {:<37} {hand:?}",
            var.index(),
            format!("{:?}", tape_grad.data())
        );
        assert_eq!(
            tape_grad.data(),
            &hand[..],
            "{name}: tape and hand disagree"
        );
    }
    println!("\nAll six adjoints agree exactly.");
    Ok(())
}
