//! Fuzz target `tensor`: tensor constructors and shape-checked ops with arbitrary dimensions
//! must return `Ok` or `Err(Error::Shape)`, never panic.
//!
//! Run (stable toolchain; cargo-fuzz needs nightly flags, RUSTC_BOOTSTRAP unlocks them):
//!   cargo install cargo-fuzz
//!   cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run tensor corpus/tensor -- -max_total_time=300
//!
//! Input, read as a little byte program: for each of two tensors a rank byte (0..=5, so rank
//! 5 exercises the rank check), then per dimension a byte d: below 0xF0 it is the dimension
//! `d % 16`; otherwise the next 8 bytes are a little-endian u64 (huge and overflowing dims).
//! A length byte then says how many elements the data holds (not necessarily the product).
//! The remaining bytes are op selectors and arguments.
//!
//! Finding (fixed): an empty tensor could have huge other dimensions (`[2^40, 0, 2^40]` holds
//! 0 elements), and `sum_axis` over the zero axis, or `matmul` with inner dimension 0, then
//! allocated the huge output: allocation failure (abort), or a `capacity overflow` panic past
//! isize::MAX bytes, instead of an `Err`. Input
//! `ff df ff ff ff 04 0a 00 e0 00 00 00 00 00 01 8c 0a 2c 00 00 00 00 00 00 00 f2 fe 05`
//! reproduced it. `Shape::new` now bounds the product of the nonzero dimensions and caps the
//! element count at `MAX_ELEMENTS` (2^32), and every op checks its output shape before
//! allocating; `tests/fuzz_regressions.rs` replays the input.
//!
//! What is still skipped: outputs the library legitimately allows (at most `MAX_ELEMENTS`)
//! but that exceed this target's memory budget `BUDGET` (libFuzzer reports any malloc above
//! its `-malloc_limit_mb`, 2 GiB by default, as a crash). Outputs above `MAX_ELEMENTS`, or
//! whose size overflows, are *not* skipped: those must come back as `Err(Error::Shape)`.
use grad_instructor::tensor::MAX_ELEMENTS;
use grad_instructor::{Error, Tensor};

/// Largest op output (elements) the target lets the library allocate: 64 MiB of f32.
const BUDGET: usize = 1 << 24;

/// Whether an op with output dimensions `dims` should run: either it fits the budget or the
/// library must reject it (more than MAX_ELEMENTS, or a size that overflows).
fn runnable(dims: impl IntoIterator<Item = usize>) -> bool {
    match dims
        .into_iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(d))
    {
        Some(n) => n <= BUDGET || n > MAX_ELEMENTS,
        None => true,
    }
}

/// An op whose output would hold more than MAX_ELEMENTS must fail with a shape error.
fn too_big(dims: impl IntoIterator<Item = usize>) -> bool {
    dims.into_iter()
        .try_fold(1usize, |acc, d| acc.checked_mul(d))
        .is_none_or(|n| n > MAX_ELEMENTS)
}

struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn dim(&mut self) -> Option<usize> {
        let b = self.byte()?;
        if b < 0xF0 {
            return Some((b % 16) as usize);
        }
        let mut v = [0u8; 8];
        for x in &mut v {
            *x = self.byte()?;
        }
        Some(u64::from_le_bytes(v) as usize)
    }
    fn dims(&mut self) -> Option<Vec<usize>> {
        let rank = self.byte()? % 6;
        (0..rank).map(|_| self.dim()).collect()
    }
    /// A data vector of up to 256 elements with values from the input bytes.
    fn data(&mut self) -> Option<Vec<f32>> {
        let n = self.byte()? as usize;
        Some(
            (0..n)
                .map(|i| (self.byte().unwrap_or(i as u8) as f32 - 128.0) / 16.0)
                .collect(),
        )
    }
}

/// The target's check of one input: panics when an invariant fails.
pub fn run(input: &[u8]) {
    let mut b = Bytes(input);
    let (Some(da), Some(xa), Some(db), Some(xb)) = (b.dims(), b.data(), b.dims(), b.data()) else {
        return;
    };
    // Every constructor call with a mismatched length or a bad shape must be an Err.
    let a = Tensor::from_vec(xa, &da);
    let c = Tensor::from_vec(xb, &db);
    let (Ok(a), Ok(c)) = (a, c) else { return };
    while let Some(op) = b.byte() {
        match op % 7 {
            0 => {
                if let Some(dims) = b.dims() {
                    if let Ok(r) = a.clone().reshape(&dims) {
                        assert_eq!(r.numel(), a.numel());
                    }
                }
            }
            1 => {
                let _ = a.add_row(&c);
            }
            2 | 3 => {
                let ta = op & 0x10 != 0;
                let tb = op & 0x20 != 0;
                // Output is m x n: m from a's rows (or columns if transposed), n likewise.
                if let ([ar, ac], [br, bc]) = (a.dims(), c.dims()) {
                    let m = if ta { *ac } else { *ar };
                    let n = if tb { *br } else { *bc };
                    if !runnable([m, n]) {
                        continue;
                    }
                    let r = a.matmul_t(ta, &c, tb);
                    if too_big([m, n]) {
                        assert!(matches!(r, Err(Error::Shape { .. })), "{m}x{n}: {r:?}");
                    }
                }
                if let Ok(p) = a.matmul_t(ta, &c, tb) {
                    assert_eq!(p.dims().len(), 2);
                }
            }
            4 => {
                let axis = b.byte().unwrap_or(0) as usize % 6;
                let rest: Vec<usize> = (a.dims().iter().enumerate())
                    .filter(|&(i, _)| i != axis)
                    .map(|(_, &d)| d)
                    .collect();
                if !runnable(rest.iter().copied()) {
                    continue;
                }
                match a.sum_axis(axis) {
                    Ok(s) => assert_eq!(s.dims().len() + 1, a.dims().len()),
                    Err(e) => assert!(matches!(e, Error::Shape { .. }), "{e:?}"),
                }
                if axis < a.dims().len() && too_big(rest.iter().copied()) {
                    assert!(a.sum_axis(axis).is_err(), "{:?} axis {axis}", a.dims());
                }
            }
            5 => {
                // argmax: every index in range; an empty axis is an error, not index 0.
                let axis = b.byte().unwrap_or(0) as usize % 6;
                if let Ok(ix) = a.argmax_axis(axis) {
                    let len = a.dims()[axis];
                    assert!(ix.iter().all(|&i| i < len), "{:?} axis {axis}", a.dims());
                } else if axis < a.dims().len() {
                    assert_eq!(a.dims()[axis], 0, "{:?} axis {axis}", a.dims());
                }
            }
            _ => {
                let _ = a.add(&c);
            }
        }
    }
}
