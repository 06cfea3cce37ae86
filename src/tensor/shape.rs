//! [`Shape`]: the dimensions of a tensor, rank 0 to 4, stored inline (no allocation).

use crate::error::{Error, Result};
use std::fmt;

/// Highest rank a [`Shape`] can hold (NCHW needs 4).
pub const MAX_RANK: usize = 4;

/// Dimensions of a row-major tensor, outermost first. Rank 0 is a scalar (one element).
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Shape {
    dims: [usize; MAX_RANK],
    rank: u8,
}

impl Shape {
    /// A shape from its dimensions; error if the rank exceeds [`MAX_RANK`] or the element
    /// count overflows `usize`.
    pub fn new(dims: &[usize]) -> Result<Shape> {
        if dims.len() > MAX_RANK {
            return Err(Error::shape(
                "Shape::new",
                format!("rank <= {MAX_RANK}"),
                format!("{dims:?}"),
            ));
        }
        if dims
            .iter()
            .try_fold(1usize, |acc, &d| acc.checked_mul(d))
            .is_none()
        {
            return Err(Error::shape(
                "Shape::new",
                "an element count that fits in usize",
                format!("{dims:?}"),
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
