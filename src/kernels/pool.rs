//! Pooling over the last two axes of `planes` independent `h × w` maps (a plane is one
//! (batch, channel) pair of an NCHW tensor). Windows are `k × k` with the given stride and no
//! padding; output size `(h - k) / stride + 1` (floor, as PyTorch with `ceil_mode=False`).
//!
//! Backward functions accumulate (`+=`) into the input gradient.

/// Sizes of one pooling.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Pool2dGeometry {
    /// Number of independent maps (n * c).
    pub planes: usize,
    /// Map height.
    pub h: usize,
    /// Map width.
    pub w: usize,
    /// Window side.
    pub k: usize,
    /// Step between windows, at least 1.
    pub stride: usize,
}

impl Pool2dGeometry {
    /// Output height; 0 if the window does not fit.
    pub fn out_h(&self) -> usize {
        self.h
            .checked_sub(self.k)
            .map_or(0, |d| d / self.stride + 1)
    }
    /// Output width; 0 if the window does not fit.
    pub fn out_w(&self) -> usize {
        self.w
            .checked_sub(self.k)
            .map_or(0, |d| d / self.stride + 1)
    }
    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.planes * self.h * self.w
    }
    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.planes * self.out_h() * self.out_w()
    }
}

/// Whether `cand` replaces `best` as a window's maximum: strictly greater, or the first NaN
/// (`>` alone is false for NaN, so NaN propagates like PyTorch's max_pool2d; a later NaN
/// does not replace an earlier one, and ties keep the earlier element).
#[inline(always)]
fn beats(cand: f32, best: f32) -> bool {
    cand > best || (cand.is_nan() && !best.is_nan())
}

/// Max pooling. Writes each window's maximum to `output` and its flat index *within the plane*
/// (`y * w + x`) to `argmax`; ties go to the first element in row-major order. NaN propagates
/// (a NaN in a window is its maximum; the first NaN in row-major order is the argmax).
///
/// The common 2 × 2, stride-2 window (the ENN's pool) takes a specialized loop with the same
/// results, bit for bit, as [`max_pool2d_forward_reference`].
pub fn max_pool2d_forward(
    g: &Pool2dGeometry,
    input: &[f32],
    output: &mut [f32],
    argmax: &mut [u32],
) {
    if g.k == 2 && g.stride == 2 {
        max_pool2x2_forward(g, input, output, argmax)
    } else {
        max_pool2d_forward_reference(g, input, output, argmax)
    }
}

/// 2 × 2, stride-2 max pooling: both rows of a window pair are walked as `[f32; 2]` chunks
/// (no per-tap index arithmetic or bounds checks), and the four candidates are compared in
/// row-major order with [`beats`], as the reference does.
fn max_pool2x2_forward(g: &Pool2dGeometry, input: &[f32], output: &mut [f32], argmax: &mut [u32]) {
    let (oh, ow, w) = (g.out_h(), g.out_w(), g.w);
    debug_assert!(g.k == 2 && g.stride == 2);
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(output.len(), g.output_len());
    debug_assert_eq!(argmax.len(), g.output_len());
    if oh * ow == 0 {
        return;
    }
    let planes = input.chunks_exact(g.h * w);
    let outs = output.chunks_exact_mut(oh * ow);
    let args = argmax.chunks_exact_mut(oh * ow);
    for ((plane, out), arg) in planes.zip(outs).zip(args) {
        let rows = out.chunks_exact_mut(ow).zip(arg.chunks_exact_mut(ow));
        for (i, (out_row, arg_row)) in rows.enumerate() {
            let top = 2 * i * w;
            let (r0, r1) = (&plane[top..top + 2 * ow], &plane[top + w..top + w + 2 * ow]);
            let cells = r0.chunks_exact(2).zip(r1.chunks_exact(2));
            for (j, ((a, b), (y, am))) in cells.zip(out_row.iter_mut().zip(arg_row)).enumerate() {
                // Candidates in row-major order: (0,0), (0,1), (1,0), (1,1).
                let (mut best, mut off) = (a[0], 0);
                if beats(a[1], best) {
                    (best, off) = (a[1], 1);
                }
                if beats(b[0], best) {
                    (best, off) = (b[0], w);
                }
                if beats(b[1], best) {
                    (best, off) = (b[1], w + 1);
                }
                *y = best;
                *am = (top + 2 * j + off) as u32;
            }
        }
    }
}

/// Max pooling by the definition, any window and stride (the reference of
/// [`max_pool2d_forward`]; same contract).
pub fn max_pool2d_forward_reference(
    g: &Pool2dGeometry,
    input: &[f32],
    output: &mut [f32],
    argmax: &mut [u32],
) {
    let (oh, ow) = (g.out_h(), g.out_w());
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(output.len(), g.output_len());
    debug_assert_eq!(argmax.len(), g.output_len());
    for p in 0..g.planes {
        let plane = &input[p * g.h * g.w..(p + 1) * g.h * g.w];
        for i in 0..oh {
            for j in 0..ow {
                let mut best = (i * g.stride) * g.w + j * g.stride;
                for u in 0..g.k {
                    for v in 0..g.k {
                        let idx = (i * g.stride + u) * g.w + j * g.stride + v;
                        if beats(plane[idx], plane[best]) {
                            best = idx;
                        }
                    }
                }
                let out = (p * oh + i) * ow + j;
                output[out] = plane[best];
                argmax[out] = best as u32;
            }
        }
    }
}

/// Max-pool backward: routes each output gradient to the input element that was the maximum.
pub fn max_pool2d_backward(
    g: &Pool2dGeometry,
    grad_output: &[f32],
    argmax: &[u32],
    grad_input: &mut [f32],
) {
    let out_plane = g.out_h() * g.out_w();
    let in_plane = g.h * g.w;
    for p in 0..g.planes {
        for o in 0..out_plane {
            let idx = p * out_plane + o;
            grad_input[p * in_plane + argmax[idx] as usize] += grad_output[idx];
        }
    }
}

/// Average pooling: each output is the mean of its `k × k` window.
pub fn avg_pool2d_forward(g: &Pool2dGeometry, input: &[f32], output: &mut [f32]) {
    let (oh, ow) = (g.out_h(), g.out_w());
    let inv = 1.0 / (g.k * g.k) as f32;
    for p in 0..g.planes {
        let plane = &input[p * g.h * g.w..(p + 1) * g.h * g.w];
        for i in 0..oh {
            for j in 0..ow {
                let mut acc = 0.0f32;
                for u in 0..g.k {
                    let row = (i * g.stride + u) * g.w + j * g.stride;
                    acc += plane[row..row + g.k].iter().sum::<f32>();
                }
                output[(p * oh + i) * ow + j] = acc * inv;
            }
        }
    }
}

/// Average-pool backward: each input in a window receives `dy / k²`.
pub fn avg_pool2d_backward(g: &Pool2dGeometry, grad_output: &[f32], grad_input: &mut [f32]) {
    let (oh, ow) = (g.out_h(), g.out_w());
    let inv = 1.0 / (g.k * g.k) as f32;
    for p in 0..g.planes {
        let plane = &mut grad_input[p * g.h * g.w..(p + 1) * g.h * g.w];
        for i in 0..oh {
            for j in 0..ow {
                let d = grad_output[(p * oh + i) * ow + j] * inv;
                for u in 0..g.k {
                    let row = (i * g.stride + u) * g.w + j * g.stride;
                    plane[row..row + g.k].iter_mut().for_each(|x| *x += d);
                }
            }
        }
    }
}

/// Global average pooling: `output[p] = mean(input[p, :])` over a plane of `hw` elements.
pub fn global_avg_pool_forward(planes: usize, hw: usize, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), planes * hw);
    debug_assert_eq!(output.len(), planes);
    for (p, out) in output.iter_mut().enumerate() {
        *out = input[p * hw..(p + 1) * hw].iter().sum::<f32>() / hw as f32;
    }
}

/// Global-average-pool backward: every element of plane p receives `dy[p] / hw`.
pub fn global_avg_pool_backward(
    planes: usize,
    hw: usize,
    grad_output: &[f32],
    grad_input: &mut [f32],
) {
    for p in 0..planes {
        let d = grad_output[p] / hw as f32;
        grad_input[p * hw..(p + 1) * hw]
            .iter_mut()
            .for_each(|x| *x += d);
    }
}
