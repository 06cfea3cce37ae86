//! 2-D convolution, NCHW, with stride and zero padding (cross-correlation, as in PyTorch).
//!
//! Forward: `y[b,o,i,j] = bias[o] + sum_{c,u,v} w[o,c,u,v] * x[b,c, i*s+u-p, j*s+v-p]`
//! (x read as 0 outside the image). Shapes: x (n, c_in, h, w), w (c_out, c_in, kh, kw),
//! y (n, c_out, out_h, out_w).
//!
//! The backward products accumulate (`+=`) into their outputs, the way the autodiff tape
//! sums gradients:
//! `dx[b,c,y,x] += sum w[o,c,u,v] * dy[b,o,i,j]` over all (o,u,v,i,j) that read (y,x), and
//! `dw[o,c,u,v] += sum_{b,i,j} dy[b,o,i,j] * x[b,c,i*s+u-p,j*s+v-p]`.

/// Sizes of one convolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Conv2dGeometry {
    /// Batch size.
    pub n: usize,
    /// Input channels.
    pub c_in: usize,
    /// Input height.
    pub h: usize,
    /// Input width.
    pub w: usize,
    /// Output channels (filters).
    pub c_out: usize,
    /// Kernel height.
    pub kh: usize,
    /// Kernel width.
    pub kw: usize,
    /// Stride (same in both directions), at least 1.
    pub stride: usize,
    /// Zero padding on each side (same in both directions).
    pub pad: usize,
}

impl Conv2dGeometry {
    /// Output height `(h + 2p - kh) / s + 1`; 0 if the kernel does not fit.
    pub fn out_h(&self) -> usize {
        (self.h + 2 * self.pad)
            .checked_sub(self.kh)
            .map_or(0, |d| d / self.stride + 1)
    }
    /// Output width `(w + 2p - kw) / s + 1`; 0 if the kernel does not fit.
    pub fn out_w(&self) -> usize {
        (self.w + 2 * self.pad)
            .checked_sub(self.kw)
            .map_or(0, |d| d / self.stride + 1)
    }
    /// Elements of x.
    pub fn input_len(&self) -> usize {
        self.n * self.c_in * self.h * self.w
    }
    /// Elements of w.
    pub fn weight_len(&self) -> usize {
        self.c_out * self.c_in * self.kh * self.kw
    }
    /// Elements of y.
    pub fn output_len(&self) -> usize {
        self.n * self.c_out * self.out_h() * self.out_w()
    }
    /// Multiply-adds of the forward pass (each backward product costs the same).
    pub fn macs(&self) -> usize {
        self.output_len() * self.c_in * self.kh * self.kw
    }

    /// Input coordinate read by output position `o` and kernel tap `t` along one axis, or
    /// `None` when it falls in the zero padding.
    #[inline(always)]
    fn source(&self, o: usize, t: usize, len: usize) -> Option<usize> {
        (o * self.stride + t)
            .checked_sub(self.pad)
            .filter(|&s| s < len)
    }
}

/// Forward convolution by the definition (7 nested loops). Overwrites `output`.
pub fn conv2d_forward_reference(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(weight.len(), g.weight_len());
    debug_assert_eq!(output.len(), g.output_len());
    for b in 0..g.n {
        for o in 0..g.c_out {
            for i in 0..oh {
                for j in 0..ow {
                    let mut acc = bias.map_or(0.0, |bs| bs[o] as f64);
                    for c in 0..g.c_in {
                        for u in 0..g.kh {
                            let Some(y) = g.source(i, u, g.h) else {
                                continue;
                            };
                            for v in 0..g.kw {
                                let Some(x) = g.source(j, v, g.w) else {
                                    continue;
                                };
                                let wv = weight[((o * g.c_in + c) * g.kh + u) * g.kw + v];
                                let xv = input[((b * g.c_in + c) * g.h + y) * g.w + x];
                                acc += wv as f64 * xv as f64;
                            }
                        }
                    }
                    output[((b * g.c_out + o) * oh + i) * ow + j] = acc as f32;
                }
            }
        }
    }
}

/// Input gradient by the definition. Accumulates into `grad_input`.
pub fn conv2d_backward_input_reference(
    g: &Conv2dGeometry,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for b in 0..g.n {
        for o in 0..g.c_out {
            for i in 0..oh {
                for j in 0..ow {
                    let dy = grad_output[((b * g.c_out + o) * oh + i) * ow + j];
                    for c in 0..g.c_in {
                        for u in 0..g.kh {
                            let Some(y) = g.source(i, u, g.h) else {
                                continue;
                            };
                            for v in 0..g.kw {
                                let Some(x) = g.source(j, v, g.w) else {
                                    continue;
                                };
                                let wv = weight[((o * g.c_in + c) * g.kh + u) * g.kw + v];
                                grad_input[((b * g.c_in + c) * g.h + y) * g.w + x] += wv * dy;
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Weight gradient by the definition. Accumulates into `grad_weight`.
pub fn conv2d_backward_weight_reference(
    g: &Conv2dGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    for o in 0..g.c_out {
        for c in 0..g.c_in {
            for u in 0..g.kh {
                for v in 0..g.kw {
                    let mut acc = 0.0f64;
                    for b in 0..g.n {
                        for i in 0..oh {
                            let Some(y) = g.source(i, u, g.h) else {
                                continue;
                            };
                            for j in 0..ow {
                                let Some(x) = g.source(j, v, g.w) else {
                                    continue;
                                };
                                let dy = grad_output[((b * g.c_out + o) * oh + i) * ow + j];
                                let xv = input[((b * g.c_in + c) * g.h + y) * g.w + x];
                                acc += dy as f64 * xv as f64;
                            }
                        }
                    }
                    grad_weight[((o * g.c_in + c) * g.kh + u) * g.kw + v] += acc as f32;
                }
            }
        }
    }
}

/// Bias gradient: `db[o] += sum_{b,i,j} dy[b,o,i,j]`.
pub fn conv2d_backward_bias(g: &Conv2dGeometry, grad_output: &[f32], grad_bias: &mut [f32]) {
    let plane = g.out_h() * g.out_w();
    for b in 0..g.n {
        for o in 0..g.c_out {
            let start = (b * g.c_out + o) * plane;
            grad_bias[o] += grad_output[start..start + plane].iter().sum::<f32>();
        }
    }
}

/// Fast forward (placeholder: the reference until the im2col path lands).
pub fn conv2d_forward(
    g: &Conv2dGeometry,
    input: &[f32],
    weight: &[f32],
    bias: Option<&[f32]>,
    output: &mut [f32],
) {
    conv2d_forward_reference(g, input, weight, bias, output)
}

/// Fast input gradient (placeholder: the reference). Accumulates into `grad_input`.
pub fn conv2d_backward_input(
    g: &Conv2dGeometry,
    grad_output: &[f32],
    weight: &[f32],
    grad_input: &mut [f32],
) {
    conv2d_backward_input_reference(g, grad_output, weight, grad_input)
}

/// Fast weight gradient (placeholder: the reference). Accumulates into `grad_weight`.
pub fn conv2d_backward_weight(
    g: &Conv2dGeometry,
    input: &[f32],
    grad_output: &[f32],
    grad_weight: &mut [f32],
) {
    conv2d_backward_weight_reference(g, input, grad_output, grad_weight)
}
