//! [`Tensor`]: an owned, contiguous, row-major `f32` array with a [`Shape`].
//!
//! This layer validates shapes (returning [`Error::Shape`]) and then calls the raw-slice
//! kernels in [`crate::kernels`]. It knows nothing about gradients: the tape in
//! [`crate::autodiff`] records which tensor ops ran and applies their backward rules.
//!
//! ## Layout
//!
//! A tensor of dimensions `[d0, d1, d2]` stores element `(i, j, k)` at flat index
//! `(i·d1 + j)·d2 + k` (row-major: the last index varies fastest). Images are NCHW
//! (batch, channel, height, width), as in PyTorch. There are no strides and no views: every
//! tensor owns one dense `Vec<f32>`. That keeps every kernel a loop over a slice; the one
//! place a view would pay, the transposes of backpropagation (`dW = dYᵀ X`), is handled by a
//! flag on the matrix product ([`Tensor::matmul_t`]) that the kernel reads directly.
//!
//! Broadcasting is limited to what the models need: a row vector over the last axis
//! ([`Tensor::add_row`], the bias add).
//!
//! ```
//! use grad_instructor::Tensor;
//! # fn main() -> grad_instructor::Result<()> {
//! let a = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?; // [[1, 2, 3], [4, 5, 6]]
//! assert_eq!(a.dims(), &[2, 3]);
//! assert_eq!(a.data()[1 * 3 + 2], 6.0); // element (1, 2)
//! assert_eq!(a.sum_axis(0)?.data(), &[5., 7., 9.]); // column sums
//! # Ok(()) }
//! ```

mod ops;
mod random;
mod shape;

// For the instructor's tape-free ENN (behind `full`; unused in the engine-only build).
#[cfg(feature = "full")]
pub(crate) use ops::sigmoid_f32;
pub use random::{normal_f32, uniform_f32};
pub use shape::{Shape, MAX_ELEMENTS, MAX_RANK};

use crate::error::{Error, Result};

/// An owned, contiguous, row-major `f32` tensor of rank 0 to 4.
#[derive(Clone, PartialEq)]
pub struct Tensor {
    shape: Shape,
    data: Vec<f32>,
}

impl Tensor {
    /// A tensor from row-major data and dimensions; error if `data.len()` is not the product of
    /// `dims` or the rank exceeds [`MAX_RANK`].
    ///
    /// ```
    /// use grad_instructor::{Error, Tensor};
    /// let m = Tensor::from_vec(vec![1., 2., 3., 4.], &[2, 2]).unwrap();
    /// assert_eq!(m.dims(), &[2, 2]);
    /// assert!(matches!(Tensor::from_vec(vec![1., 2., 3.], &[2, 2]), Err(Error::Shape { .. })));
    /// ```
    pub fn from_vec(data: Vec<f32>, dims: &[usize]) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        if shape.numel() != data.len() {
            return Err(Error::shape(
                "Tensor::from_vec",
                format!("{} elements for shape {shape}", shape.numel()),
                format!("{} elements", data.len()),
            ));
        }
        Ok(Tensor { shape, data })
    }

    /// A tensor of a given shape filled with `value`.
    pub fn full(dims: &[usize], value: f32) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        Ok(Tensor {
            shape,
            data: vec![value; shape.numel()],
        })
    }

    /// All zeros.
    pub fn zeros(dims: &[usize]) -> Result<Tensor> {
        Tensor::full(dims, 0.0)
    }

    /// All ones.
    pub fn ones(dims: &[usize]) -> Result<Tensor> {
        Tensor::full(dims, 1.0)
    }

    /// A rank-0 tensor holding one value.
    pub fn scalar(value: f32) -> Tensor {
        Tensor {
            shape: Shape::scalar(),
            data: vec![value],
        }
    }

    /// Zeros with the shape of `self`.
    pub fn zeros_like(&self) -> Tensor {
        Tensor {
            shape: self.shape,
            data: vec![0.0; self.data.len()],
        }
    }

    /// Elements drawn i.i.d. from U(low, high) with the given seeded generator.
    pub fn uniform(
        dims: &[usize],
        low: f32,
        high: f32,
        rng: &mut impl rand::Rng,
    ) -> Result<Tensor> {
        let mut t = Tensor::zeros(dims)?;
        t.data
            .iter_mut()
            .for_each(|x| *x = uniform_f32(rng, low, high));
        Ok(t)
    }

    /// Elements drawn i.i.d. from N(mean, std²) with the given seeded generator.
    pub fn normal(dims: &[usize], mean: f32, std: f32, rng: &mut impl rand::Rng) -> Result<Tensor> {
        let mut t = Tensor::zeros(dims)?;
        t.data
            .iter_mut()
            .for_each(|x| *x = mean + std * normal_f32(rng));
        Ok(t)
    }

    /// The shape.
    pub fn shape(&self) -> Shape {
        self.shape
    }

    /// The dimensions.
    pub fn dims(&self) -> &[usize] {
        self.shape.dims()
    }

    /// Number of elements.
    pub fn numel(&self) -> usize {
        self.data.len()
    }

    /// The elements, row-major.
    pub fn data(&self) -> &[f32] {
        &self.data
    }

    /// The elements, mutable.
    pub fn data_mut(&mut self) -> &mut [f32] {
        &mut self.data
    }

    /// Takes the element buffer out.
    pub fn into_vec(self) -> Vec<f32> {
        self.data
    }

    /// The single value of a one-element tensor.
    pub fn item(&self) -> Result<f32> {
        match self.data.as_slice() {
            [v] => Ok(*v),
            _ => Err(Error::shape(
                "Tensor::item",
                "one element",
                format!("{}", self.shape),
            )),
        }
    }

    /// Same data, new dimensions (no copy: the buffer moves). Error if the counts differ.
    ///
    /// Row-major order is preserved, so reshaping never moves an element within the buffer.
    ///
    /// ```
    /// use grad_instructor::Tensor;
    /// # fn main() -> grad_instructor::Result<()> {
    /// let v = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[6])?;
    /// let m = v.reshape(&[2, 3])?; // [[1, 2, 3], [4, 5, 6]]
    /// assert_eq!(m.data()[1 * 3], 4.0); // element (1, 0)
    /// assert!(m.reshape(&[4]).is_err()); // 6 elements do not fit 4
    /// # Ok(()) }
    /// ```
    pub fn reshape(self, dims: &[usize]) -> Result<Tensor> {
        let shape = Shape::new(dims)?;
        if shape.numel() != self.data.len() {
            return Err(Error::shape(
                "reshape",
                format!("{} elements", self.data.len()),
                format!("{shape}"),
            ));
        }
        Ok(Tensor {
            shape,
            data: self.data,
        })
    }

    /// Checks that `self` has exactly `dims`, naming `op` in the error.
    pub fn expect_dims(&self, op: &'static str, dims: &[usize]) -> Result<()> {
        if self.dims() == dims {
            Ok(())
        } else {
            Err(Error::shape(
                op,
                format!("{dims:?}"),
                format!("{}", self.shape),
            ))
        }
    }

    /// Whether every element is finite (no NaN, no infinity).
    pub fn all_finite(&self) -> bool {
        // Branch-free within a chunk so the compiler vectorizes it; stop between chunks.
        self.data
            .chunks(1024)
            .all(|c| c.iter().fold(true, |ok, x| ok & x.is_finite()))
    }

    /// The rows and columns of a matrix, or a shape error naming `op`.
    pub fn matrix_dims(&self, op: &'static str) -> Result<(usize, usize)> {
        self.shape
            .as_matrix()
            .ok_or_else(|| Error::shape(op, "a matrix (rank 2)", format!("{}", self.shape)))
    }
}

impl std::fmt::Debug for Tensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const SHOWN: usize = 8;
        write!(
            f,
            "Tensor{} {:?}",
            self.shape,
            &self.data[..self.data.len().min(SHOWN)]
        )?;
        if self.data.len() > SHOWN {
            write!(f, "...")?;
        }
        Ok(())
    }
}
