//! Elementwise ops, reductions, broadcasting and matrix products on [`Tensor`].
//!
//! Each method checks shapes and returns a new tensor (the `_`-suffixed ones work in place).
//! Sums over all elements accumulate in f64, so a loss averaged over a large batch does not
//! lose the small terms. Matrix products go to the dispatching kernel
//! [`sgemm`](crate::kernels::matmul::sgemm); everything else is a plain loop.

use super::Tensor;
use crate::error::{Error, Result};
use crate::kernels::matmul::{sgemm, Gemm};

/// Numerically stable logistic function `1 / (1 + e^-x)` (never computes `e^x` for large x).
#[inline]
pub(crate) fn sigmoid_f32(x: f32) -> f32 {
    if x >= 0.0 {
        1.0 / (1.0 + (-x).exp())
    } else {
        let e = x.exp();
        e / (1.0 + e)
    }
}

impl Tensor {
    fn same_shape(&self, other: &Tensor, op: &'static str) -> Result<()> {
        if self.shape == other.shape {
            Ok(())
        } else {
            Err(Error::shape(
                op,
                format!("{}", self.shape),
                format!("{}", other.shape),
            ))
        }
    }

    fn zip_map(
        &self,
        other: &Tensor,
        op: &'static str,
        f: impl Fn(f32, f32) -> f32,
    ) -> Result<Tensor> {
        self.same_shape(other, op)?;
        let data = self
            .data
            .iter()
            .zip(&other.data)
            .map(|(&a, &b)| f(a, b))
            .collect();
        Ok(Tensor {
            shape: self.shape,
            data,
        })
    }

    /// Applies `f` to every element.
    pub fn map(&self, f: impl Fn(f32) -> f32) -> Tensor {
        Tensor {
            shape: self.shape,
            data: self.data.iter().map(|&x| f(x)).collect(),
        }
    }

    /// Elementwise `self + other` (same shape).
    pub fn add(&self, other: &Tensor) -> Result<Tensor> {
        self.zip_map(other, "add", |a, b| a + b)
    }
    /// Elementwise `self - other` (same shape).
    pub fn sub(&self, other: &Tensor) -> Result<Tensor> {
        self.zip_map(other, "sub", |a, b| a - b)
    }
    /// Elementwise `self * other` (same shape).
    pub fn mul(&self, other: &Tensor) -> Result<Tensor> {
        self.zip_map(other, "mul", |a, b| a * b)
    }
    /// Elementwise `self / other` (same shape).
    pub fn div(&self, other: &Tensor) -> Result<Tensor> {
        self.zip_map(other, "div", |a, b| a / b)
    }
    /// `self + s` for every element.
    pub fn add_scalar(&self, s: f32) -> Tensor {
        self.map(|x| x + s)
    }
    /// `self * s` for every element.
    pub fn mul_scalar(&self, s: f32) -> Tensor {
        self.map(|x| x * s)
    }
    /// In place `self += alpha * other` (same shape): the optimizer's axpy.
    pub fn add_scaled_(&mut self, alpha: f32, other: &Tensor) -> Result<()> {
        self.same_shape(other, "add_scaled_")?;
        self.data
            .iter_mut()
            .zip(&other.data)
            .for_each(|(a, &b)| *a += alpha * b);
        Ok(())
    }
    /// `max(x, 0)`.
    pub fn relu(&self) -> Tensor {
        self.map(|x| x.max(0.0))
    }
    /// `1 / (1 + e^-x)`, computed stably.
    pub fn sigmoid(&self) -> Tensor {
        self.map(sigmoid_f32)
    }
    /// `tanh(x)`.
    pub fn tanh(&self) -> Tensor {
        self.map(f32::tanh)
    }
    /// `e^x`.
    pub fn exp(&self) -> Tensor {
        self.map(f32::exp)
    }
    /// Natural logarithm (NaN for negative input, -inf at 0, as `f32::ln`).
    pub fn log(&self) -> Tensor {
        self.map(f32::ln)
    }
    /// `|x|`.
    pub fn abs(&self) -> Tensor {
        self.map(f32::abs)
    }

    /// `self[.., j] + row[j]`: adds a vector over the last axis (the bias add). `row` must have
    /// shape `[n]` or `[1, n]` where n is the last dimension of `self`.
    pub fn add_row(&self, row: &Tensor) -> Result<Tensor> {
        let n = *self
            .dims()
            .last()
            .ok_or_else(|| Error::shape("add_row", "rank >= 1", "a scalar"))?;
        if row.numel() != n || row.shape.rank() > 2 || (row.shape.rank() == 2 && row.dims()[0] != 1)
        {
            return Err(Error::shape(
                "add_row",
                format!("[{n}] or [1, {n}]"),
                format!("{}", row.shape),
            ));
        }
        let mut out = self.clone();
        // n == 0: the tensor is empty and there is nothing to add (chunks of 0 would panic).
        if n > 0 {
            for chunk in out.data.chunks_exact_mut(n) {
                chunk.iter_mut().zip(&row.data).for_each(|(a, &b)| *a += b);
            }
        }
        Ok(out)
    }

    /// Sum of all elements (accumulated in f64 for accuracy).
    pub fn sum_all(&self) -> f32 {
        // Eight independent f64 partial sums, combined at the end: the same order on every
        // run (deterministic), and no single 4-cycle add chain, so it vectorizes.
        let mut lanes = [0.0f64; 8];
        let chunks = self.data.chunks_exact(8);
        let tail: f64 = chunks.remainder().iter().map(|&x| x as f64).sum();
        for c in chunks {
            for (l, &x) in lanes.iter_mut().zip(c) {
                *l += x as f64;
            }
        }
        (lanes.iter().sum::<f64>() + tail) as f32
    }

    /// Mean of all elements.
    pub fn mean_all(&self) -> f32 {
        self.sum_all() / self.numel() as f32
    }

    fn check_axis(&self, op: &'static str, axis: usize) -> Result<(usize, usize, usize)> {
        if axis >= self.shape.rank() {
            return Err(Error::shape(
                op,
                format!("axis < rank {}", self.shape.rank()),
                format!("axis {axis}"),
            ));
        }
        Ok(self.shape.split_at_axis(axis))
    }

    fn reduced_dims(&self, axis: usize) -> Vec<usize> {
        let mut d = self.dims().to_vec();
        d.remove(axis);
        d
    }

    fn reduce_axis(
        &self,
        op: &'static str,
        axis: usize,
        init: f32,
        f: impl Fn(f32, f32) -> f32,
    ) -> Result<Tensor> {
        let (outer, len, inner) = self.check_axis(op, axis)?;
        // The output shape is checked (against MAX_ELEMENTS) before its buffer is allocated:
        // an empty input can ask for a huge output ([2^20, 0, 2^20] summed over axis 1).
        let out_dims = self.reduced_dims(axis);
        let mut out = Tensor::full(&out_dims, init)?;
        // An empty output needs no loop; looping anyway costs outer * len steps, unbounded
        // when a zero dimension hides huge ones (e.g. [2^40, 2^20, 0]).
        if out.numel() == 0 {
            return Ok(out);
        }
        let out_data = out.data_mut();
        for o in 0..outer {
            for i in 0..len {
                let src = &self.data[(o * len + i) * inner..(o * len + i + 1) * inner];
                out_data[o * inner..(o + 1) * inner]
                    .iter_mut()
                    .zip(src)
                    .for_each(|(a, &b)| *a = f(*a, b));
            }
        }
        Ok(out)
    }

    /// Sum along `axis` (that axis is removed).
    pub fn sum_axis(&self, axis: usize) -> Result<Tensor> {
        self.reduce_axis("sum_axis", axis, 0.0, |a, b| a + b)
    }

    /// Mean along `axis` (that axis is removed).
    pub fn mean_axis(&self, axis: usize) -> Result<Tensor> {
        let len = self.check_axis("mean_axis", axis)?.1 as f32;
        Ok(self.sum_axis(axis)?.mul_scalar(1.0 / len))
    }

    /// Maximum along `axis` (NaN propagates).
    pub fn max_axis(&self, axis: usize) -> Result<Tensor> {
        self.reduce_axis("max_axis", axis, f32::NEG_INFINITY, |a, b| {
            if b > a || b.is_nan() {
                b
            } else {
                a
            }
        })
    }

    /// Index of the maximum along `axis` (first one on ties). An axis of length 0 has no
    /// maximum: that is an [`Error::Shape`] (returning index 0 would point past the end).
    pub fn argmax_axis(&self, axis: usize) -> Result<Vec<usize>> {
        let (outer, len, inner) = self.check_axis("argmax_axis", axis)?;
        if len == 0 {
            return Err(Error::shape(
                "argmax_axis",
                format!("axis {axis} of length >= 1"),
                format!("{:?}", self.dims()),
            ));
        }
        // len >= 1, so outer * inner <= numel <= MAX_ELEMENTS: the allocation is bounded.
        let mut out = vec![0usize; outer * inner];
        for o in 0..outer {
            for r in 0..inner {
                let at = |i: usize| self.data[(o * len + i) * inner + r];
                out[o * inner + r] =
                    (1..len).fold(0, |best, i| if at(i) > at(best) { i } else { best });
            }
        }
        Ok(out)
    }

    /// Transpose of a matrix (copies).
    pub fn transpose(&self) -> Result<Tensor> {
        let (r, c) = self.matrix_dims("transpose")?;
        let mut out = vec![0.0; r * c];
        for i in 0..r {
            for j in 0..c {
                out[j * r + i] = self.data[i * c + j];
            }
        }
        Tensor::from_vec(out, &[c, r])
    }

    /// Matrix product `op(self) * op(other)`, where `op` transposes when the flag is set
    /// (without copying: the kernel reads the stored layout).
    ///
    /// `op(self)` must be m×k and `op(other)` k×n; the result is m×n. A linear layer stores
    /// its weight W as (out × in) and computes `x Wᵀ` as `x.matmul_t(false, &w, true)`.
    ///
    /// ```
    /// use grad_instructor::Tensor;
    /// # fn main() -> grad_instructor::Result<()> {
    /// let x = Tensor::from_vec(vec![1., 2.], &[1, 2])?;
    /// let w = Tensor::from_vec(vec![1., 0., 0., 1., 1., 1.], &[3, 2])?; // 3 outputs, 2 inputs
    /// assert_eq!(x.matmul_t(false, &w, true)?.data(), &[1., 2., 3.]); // x Wᵀ, 1×3
    /// # Ok(()) }
    /// ```
    pub fn matmul_t(&self, trans_a: bool, other: &Tensor, trans_b: bool) -> Result<Tensor> {
        let (ar, ac) = self.matrix_dims("matmul")?;
        let (br, bc) = other.matrix_dims("matmul")?;
        let (m, k) = if trans_a { (ac, ar) } else { (ar, ac) };
        let (k2, n) = if trans_b { (bc, br) } else { (br, bc) };
        if k != k2 {
            return Err(Error::shape(
                "matmul",
                format!("inner dimensions equal (op(A) is {m}x{k})"),
                format!("op(B) is {k2}x{n}"),
            ));
        }
        let mut out = Tensor::zeros(&[m, n])?;
        // Nothing to multiply: the product is empty, or (k = 0) all zeros. Skipping the kernel
        // keeps the work bounded by element counts when a zero dimension hides a huge one.
        if out.numel() == 0 || k == 0 {
            return Ok(out);
        }
        let g = Gemm {
            trans_a,
            trans_b,
            ..Gemm::new(m, k, n)
        };
        sgemm(&g, &self.data, &other.data, &mut out.data);
        Ok(out)
    }

    /// Matrix product `self * other`: `C[i][j] = Σ_p A[i][p] · B[p][j]`, A m×k, B k×n.
    ///
    /// ```
    /// use grad_instructor::Tensor;
    /// # fn main() -> grad_instructor::Result<()> {
    /// let a = Tensor::from_vec(vec![1., 2., 3., 4., 5., 6.], &[2, 3])?;
    /// let b = Tensor::from_vec(vec![1., 0., 2., -1., 3., 1.], &[3, 2])?;
    /// let c = a.matmul(&b)?; // row 0: [1·1 + 2·2 + 3·3, 1·0 − 2·1 + 3·1]
    /// assert_eq!(c.dims(), &[2, 2]);
    /// assert_eq!(c.data(), &[14., 1., 32., 1.]);
    /// assert!(a.matmul(&a).is_err()); // 2×3 · 2×3: inner dimensions differ
    /// # Ok(()) }
    /// ```
    pub fn matmul(&self, other: &Tensor) -> Result<Tensor> {
        self.matmul_t(false, other, false)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(data: &[f32], dims: &[usize]) -> Tensor {
        Tensor::from_vec(data.to_vec(), dims).unwrap()
    }

    #[test]
    fn from_vec_rejects_wrong_length() {
        assert!(matches!(
            Tensor::from_vec(vec![1.0; 5], &[2, 3]),
            Err(Error::Shape { .. })
        ));
    }

    #[test]
    fn reductions_along_axes_match_hand_values() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        assert_eq!(a.sum_axis(0).unwrap().data(), &[5., 7., 9.]);
        assert_eq!(a.sum_axis(1).unwrap().data(), &[6., 15.]);
        assert_eq!(a.mean_axis(1).unwrap().data(), &[2., 5.]);
        assert_eq!(a.max_axis(0).unwrap().data(), &[4., 5., 6.]);
        assert_eq!(a.argmax_axis(1).unwrap(), vec![2, 2]);
        assert!(a.sum_axis(2).is_err());
    }

    #[test]
    fn matmul_transposes_agree_with_explicit_transpose() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let b = t(&[1., 0., 2., -1., 3., 1.], &[3, 2]);
        let ab = a.matmul(&b).unwrap();
        assert_eq!(ab.data(), &[14., 1., 32., 1.]);
        let at = a.transpose().unwrap();
        let bt = b.transpose().unwrap();
        assert_eq!(at.matmul_t(true, &bt, true).unwrap(), ab);
        assert!(a.matmul(&a).is_err());
    }

    #[test]
    fn add_row_broadcasts_and_checks_length() {
        let a = t(&[1., 2., 3., 4.], &[2, 2]);
        let r = t(&[10., 20.], &[2]);
        assert_eq!(a.add_row(&r).unwrap().data(), &[11., 22., 13., 24.]);
        assert!(a.add_row(&t(&[1., 2., 3.], &[3])).is_err());
    }

    #[test]
    fn reshape_moves_without_copy_and_checks_count() {
        let a = t(&[1., 2., 3., 4., 5., 6.], &[2, 3]);
        let ptr = a.data().as_ptr();
        let b = a.reshape(&[3, 2]).unwrap();
        assert_eq!(b.data().as_ptr(), ptr);
        assert!(b.reshape(&[4]).is_err());
    }

    #[test]
    fn sigmoid_is_stable_at_extremes() {
        assert_eq!(sigmoid_f32(-1000.0), 0.0);
        assert_eq!(sigmoid_f32(1000.0), 1.0);
        assert!((sigmoid_f32(0.0) - 0.5).abs() < 1e-7);
    }
}
