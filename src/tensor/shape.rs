//! [`Shape`]: the dimensions of a tensor, rank 0 to 4, stored inline (no allocation).

use crate::error::{Error, Result};
use std::fmt;

/// Highest rank a [`Shape`] can hold (NCHW needs 4).
pub const MAX_RANK: usize = 4;

/// Most elements a tensor may hold: 2^32 (16 GiB of f32) on 64-bit targets. A `Vec<f32>`
/// longer than `isize::MAX` bytes panics with `capacity overflow` and a merely huge one
/// aborts the process when the allocation fails; capping the count in [`Shape::new`] turns a
/// hostile or fuzzed shape into an [`Error::Shape`] instead. Far above anything this crate
/// trains (the largest tensor is MNIST's 47 million pixels). On 32-bit targets the cap is
/// `isize::MAX / 8`, so that even an 8-byte element type stays below `isize::MAX` bytes.
pub const MAX_ELEMENTS: usize = if usize::BITS >= 64 {
    1 << 32
} else {
    isize::MAX as usize / 8
};

/// Dimensions of a row-major tensor, outermost first. Rank 0 is a scalar (one element).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// A shape from its dimensions; an [`Error::Shape`] if the rank exceeds [`MAX_RANK`], if
    /// the product of the nonzero dimensions overflows `usize`, or if the element count
    /// exceeds [`MAX_ELEMENTS`].
    ///
    /// The second rule matters for empty tensors: `[2^40, 0, 2^40]` holds no element, but
    /// summing over its zero axis would ask for a `[2^40, 2^40]` output, and every
    /// `outer`/`inner` product of [`Shape::split_at_axis`] must be computable. With the
    /// nonzero product bounded, every sub-product of the dimensions fits in `usize`, and every
    /// output shape an op derives is checked here before its buffer is allocated, so a
    /// hostile shape is an `Err`, never a `capacity overflow` panic or an allocation abort.
    ///
    /// ```
    /// use grad_instructor::{Error, Shape};
    /// assert!(Shape::new(&[1 << 40, 0]).is_ok()); // empty, and [2^40] still fits
    /// assert!(matches!(Shape::new(&[1 << 40, 0, 1 << 40]), Err(Error::Shape { .. })));
    /// assert!(matches!(Shape::new(&[1 << 20, 1 << 20]), Err(Error::Shape { .. })));
    /// ```
    pub fn new(dims: &[usize]) -> Result<Shape> {
        if dims.len() > MAX_RANK {
            return Err(Error::shape(
                "Shape::new",
                format!("rank <= {MAX_RANK}"),
                format!("{dims:?}"),
            ));
        }
        let nonzero_product = dims
            .iter()
            .filter(|&&d| d != 0)
            .try_fold(1usize, |acc, &d| acc.checked_mul(d));
        if nonzero_product.is_none() {
            return Err(Error::shape(
                "Shape::new",
                "dimensions whose nonzero product fits in usize",
                format!("{dims:?}"),
            ));
        }
        let numel = if dims.contains(&0) {
            0
        } else {
            nonzero_product.unwrap_or(usize::MAX)
        };
        if numel > MAX_ELEMENTS {
            return Err(Error::shape(
                "Shape::new",
                format!("at most {MAX_ELEMENTS} elements (MAX_ELEMENTS)"),
                format!("{dims:?} ({numel} elements)"),
            ));
        }
        let mut s = Shape {
            dims: [0; MAX_RANK],
            rank: dims.len() as u8,
        };
        s.dims[..dims.len()].copy_from_slice(dims);
        Ok(s)
    }

    /// The scalar shape `[]`.
    pub fn scalar() -> Shape {
        Shape {
            dims: [0; MAX_RANK],
            rank: 0,
        }
    }

    /// The dimensions, outermost first.
    pub fn dims(&self) -> &[usize] {
        &self.dims[..self.rank as usize]
    }

    /// Number of dimensions.
    pub fn rank(&self) -> usize {
        self.rank as usize
    }

    /// Number of elements (1 for a scalar).
    pub fn numel(&self) -> usize {
        self.dims().iter().product()
    }

    /// Size of dimension `axis`.
    pub fn dim(&self, axis: usize) -> usize {
        self.dims()[axis]
    }

    /// `(rows, cols)` if this is a rank-2 shape.
    pub fn as_matrix(&self) -> Option<(usize, usize)> {
        (self.rank == 2).then(|| (self.dims[0], self.dims[1]))
    }

    /// Splits the shape around `axis` into `(outer, len, inner)` element counts, so that
    /// element `(o, i, r)` lives at flat index `(o * len + i) * inner + r`. Every reduction
    /// along an axis (and its backward rule) is a loop over this triple.
    ///
    /// ```
    /// use grad_instructor::Shape;
    /// let s = Shape::new(&[2, 3, 4]).unwrap();
    /// assert_eq!(s.split_at_axis(1), (2, 3, 4));
    /// assert_eq!(s.split_at_axis(0), (1, 2, 12));
    /// ```
    pub fn split_at_axis(&self, axis: usize) -> (usize, usize, usize) {
        let d = self.dims();
        (
            d[..axis].iter().product(),
            d[axis],
            d[axis + 1..].iter().product(),
        )
    }
}

impl fmt::Debug for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}

impl fmt::Display for Shape {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.dims())
    }
}
