//! Spatial ops on (n, c, h, w) images: convolution, pooling, resizing. The arithmetic is in
//! [`crate::kernels`]; these methods check shapes, record the geometry, and call the kernels'
//! forward and adjoint functions.
//!
//! | forward | adjoint contributions |
//! |---|---|
//! | conv2d | `x̄ += ` the transposed convolution of ḡ by W, `W̄ += ` ḡ correlated with x, `b̄ += Σ ḡ` |
//! | max pool | ḡ goes to the window's argmax (saved in the forward pass) |
//! | average pool, global average pool | ḡ / (window size) to every element of the window |
//! | resize (linear map R) | `x̄ += Rᵀ ḡ`, the kernel's adjoint |

use crate::autodiff::op::{Op, Var};
use crate::autodiff::tape::{Adjoints, Tape};
use crate::error::{Error, Result};
use crate::kernels::conv::{self, Conv2dGeometry};
use crate::kernels::pool::{self, Pool2dGeometry};
use crate::kernels::resize::{self, ResizeGeometry, ResizeMode};
use crate::tensor::Tensor;

/// How a resize node was specified.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ResizeTo {
    /// Output side `floor(in * s)` on both axes.
    Scale(f64),
    /// Explicit output height and width.
    Size(usize, usize),
}

/// Forward passes.
impl Tape<'_> {
    /// 2-D convolution: `x` (n, c_in, h, w), `w` (c_out, c_in, kh, kw), optional bias (c_out).
    pub fn conv2d(
        &mut self,
        x: Var,
        w: Var,
        b: Option<Var>,
        stride: usize,
        pad: usize,
    ) -> Result<Var> {
        let (xv, wv) = (self.value(x), self.value(w));
        let (xd, wd) = (xv.dims(), wv.dims());
        if xd.len() != 4 || wd.len() != 4 || xd[1] != wd[1] || stride == 0 {
            return Err(Error::shape(
                "conv2d",
                "x (n,c,h,w), w (c_out,c,kh,kw), stride >= 1",
                format!("x {xd:?}, w {wd:?}, stride {stride}"),
            ));
        }
        let geom = Conv2dGeometry {
            n: xd[0],
            c_in: xd[1],
            h: xd[2],
            w: xd[3],
            c_out: wd[0],
            kh: wd[2],
            kw: wd[3],
            stride,
            pad,
        };
        if geom.out_h() == 0 || geom.out_w() == 0 {
            return Err(Error::shape(
                "conv2d",
                "kernel no larger than the padded input",
                format!("x {xd:?}, w {wd:?}, pad {pad}"),
            ));
        }
        if let Some(b) = b {
            self.value(b).expect_dims("conv2d bias", &[geom.c_out])?;
        }
        let mut y = Tensor::zeros(&[geom.n, geom.c_out, geom.out_h(), geom.out_w()])?;
        conv::conv2d_forward(
            &geom,
            xv.data(),
            wv.data(),
            b.map(|b| self.value(b).data()),
            y.data_mut(),
        );
        Ok(self.push(Op::Conv2d { x, w, b, geom }, y))
    }

    fn pool_geometry(
        &self,
        op: &'static str,
        x: Var,
        k: usize,
        stride: usize,
    ) -> Result<(Pool2dGeometry, [usize; 4])> {
        let d = self.value(x).dims();
        if d.len() != 4 || k == 0 || stride == 0 || k > d[2] || k > d[3] {
            return Err(Error::shape(
                op,
                "x (n,c,h,w) with window 1..=min(h,w), stride >= 1",
                format!("x {d:?}, k {k}, stride {stride}"),
            ));
        }
        let geom = Pool2dGeometry {
            planes: d[0] * d[1],
            h: d[2],
            w: d[3],
            k,
            stride,
        };
        Ok((geom, [d[0], d[1], geom.out_h(), geom.out_w()]))
    }

    /// Max pooling with a `k × k` window (no padding, floor output size).
    pub fn max_pool2d(&mut self, x: Var, k: usize, stride: usize) -> Result<Var> {
        let (geom, dims) = self.pool_geometry("max_pool2d", x, k, stride)?;
        let mut y = Tensor::zeros(&dims)?;
        let mut argmax = vec![0u32; y.numel()];
        pool::max_pool2d_forward(&geom, self.value(x).data(), y.data_mut(), &mut argmax);
        Ok(self.push(Op::MaxPool2d { x, geom, argmax }, y))
    }

    /// Average pooling with a `k × k` window.
    pub fn avg_pool2d(&mut self, x: Var, k: usize, stride: usize) -> Result<Var> {
        let (geom, dims) = self.pool_geometry("avg_pool2d", x, k, stride)?;
        let mut y = Tensor::zeros(&dims)?;
        pool::avg_pool2d_forward(&geom, self.value(x).data(), y.data_mut());
        Ok(self.push(Op::AvgPool2d { x, geom }, y))
    }

    /// Global average pooling: (n, c, h, w) → (n, c).
    pub fn global_avg_pool(&mut self, x: Var) -> Result<Var> {
        let d = self.value(x).dims().to_vec();
        if d.len() != 4 || d[2] * d[3] == 0 {
            return Err(Error::shape(
                "global_avg_pool",
                "x (n,c,h,w) with h*w > 0",
                format!("{d:?}"),
            ));
        }
        let (planes, hw) = (d[0] * d[1], d[2] * d[3]);
        let mut y = Tensor::zeros(&[d[0], d[1]])?;
        pool::global_avg_pool_forward(planes, hw, self.value(x).data(), y.data_mut());
        Ok(self.push(Op::GlobalAvgPool { x, planes, hw }, y))
    }

    /// Resizes the last two axes of a matrix (h, w) or a batch (n, c, h, w).
    pub fn resize(&mut self, x: Var, mode: ResizeMode, to: ResizeTo) -> Result<Var> {
        let d = self.value(x).dims().to_vec();
        let (planes, h, w) = match d.len() {
            2 => (1, d[0], d[1]),
            4 => (d[0] * d[1], d[2], d[3]),
            _ => {
                return Err(Error::shape(
                    "resize",
                    "a matrix (h,w) or (n,c,h,w)",
                    format!("{d:?}"),
                ))
            }
        };
        let geom = match to {
            ResizeTo::Scale(s) if s > 0.0 && s.is_finite() => {
                ResizeGeometry::by_scale(planes, h, w, s)
            }
            ResizeTo::Size(oh, ow) => ResizeGeometry::by_size(planes, h, w, oh, ow),
            ResizeTo::Scale(s) => {
                return Err(Error::invalid(
                    "resize",
                    format!("scale {s} must be positive and finite"),
                ))
            }
        };
        if geom.out_h == 0 || geom.out_w == 0 || h == 0 || w == 0 {
            return Err(Error::shape(
                "resize",
                "non-empty input and output",
                format!("{h}x{w} -> {}x{}", geom.out_h, geom.out_w),
            ));
        }
        let mut out_dims = d.clone();
        let r = out_dims.len();
        out_dims[r - 2] = geom.out_h;
        out_dims[r - 1] = geom.out_w;
        let mut y = Tensor::zeros(&out_dims)?;
        resize::resize(mode, &geom, self.value(x).data(), y.data_mut());
        Ok(self.push(Op::Resize { x, geom, mode }, y))
    }
}

// Backward rules.

/// The two backward products of a convolution (see [`crate::kernels::conv`]); the bias
/// adjoint is ḡ summed over batch and positions.
pub(crate) fn conv2d_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    x: Var,
    w: Var,
    b: Option<Var>,
    geom: &Conv2dGeometry,
) -> Result<()> {
    let gd = g.data();
    let (xv, wv) = (adj.value(x), adj.value(w));
    adj.accumulate(x, |dx| conv::conv2d_backward_input(geom, gd, wv.data(), dx));
    adj.accumulate(w, |dw| {
        conv::conv2d_backward_weight(geom, xv.data(), gd, dw)
    });
    if let Some(b) = b {
        adj.accumulate(b, |db| conv::conv2d_backward_bias(geom, gd, db));
    }
    Ok(())
}

/// The max is locally the selected element: its adjoint gets ḡ, the rest 0.
pub(crate) fn max_pool2d_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    x: Var,
    geom: &Pool2dGeometry,
    argmax: &[u32],
) -> Result<()> {
    adj.accumulate(x, |dx| {
        pool::max_pool2d_backward(geom, g.data(), argmax, dx)
    });
    Ok(())
}

/// Every element of a window gets ḡ / (window size).
pub(crate) fn avg_pool2d_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    x: Var,
    geom: &Pool2dGeometry,
) -> Result<()> {
    adj.accumulate(x, |dx| pool::avg_pool2d_backward(geom, g.data(), dx));
    Ok(())
}

/// Every element of plane p gets ḡ[p] / hw (the same quotient the kernel adds).
pub(crate) fn global_avg_pool_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    x: Var,
    planes: usize,
    hw: usize,
) -> Result<()> {
    let gd = g.data();
    let fresh = || {
        let mut dx = Vec::with_capacity(planes * hw);
        for &d in gd {
            // `extend` from a `repeat_n` is one fill (a flat_map collect is not).
            dx.extend(std::iter::repeat_n(d / hw as f32, hw));
        }
        dx
    };
    adj.accumulate_fresh(x, fresh, |dx| {
        pool::global_avg_pool_backward(planes, hw, gd, dx)
    })
}

/// A resize is linear, y = R x, so ∂x = Rᵀ ḡ: the kernel's adjoint.
pub(crate) fn resize_backward(
    adj: &mut Adjoints<'_, '_>,
    g: &Tensor,
    x: Var,
    geom: &ResizeGeometry,
    mode: ResizeMode,
) -> Result<()> {
    adj.accumulate(x, |dx| resize::resize_adjoint(mode, geom, g.data(), dx));
    Ok(())
}
