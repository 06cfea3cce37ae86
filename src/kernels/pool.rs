//! Pooling over the last two axes of `planes` independent `h × w` maps (a plane is one
//! (batch, channel) pair of an NCHW tensor). Windows are `k × k` with the given stride and no
//! padding; output size `(h - k) / stride + 1` (floor, as PyTorch with `ceil_mode=False`).
//!
//! Backward functions accumulate (`+=`) into the input gradient:
//!
//! * max pooling is locally a selection `y = x[argmax]`, so its adjoint routes each output
//!   gradient to the one input that won its window (`dx[argmax] += dy`), and nothing to the
//!   others; on ties the first element in row-major order wins, as recorded in the forward
//!   pass, so forward and backward agree (PyTorch also picks one element);
//! * average pooling is `y = (1/k²) Σ_window x`, so every input of a window receives `dy / k²`
//!   (once per window that contains it);
//! * global average pooling is the same with the whole plane as the window: `dy / (h·w)`.

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
        max_pool2x2_forward::<false>(g, input, output, argmax)
    } else {
        max_pool2d_forward_reference(g, input, output, argmax)
    }
}

/// [`max_pool2d_forward`] of `max(x, 0)` (NaN and −0 give +0): a ReLU then the pool, bit
/// for bit (values and argmax), without writing the ReLU's output (the 2 × 2 loop applies
/// it to each element it reads; other windows pool a ReLU'd copy).
pub fn max_pool2d_relu_forward(
    g: &Pool2dGeometry,
    input: &[f32],
    output: &mut [f32],
    argmax: &mut [u32],
) {
    if g.k == 2 && g.stride == 2 {
        max_pool2x2_forward::<true>(g, input, output, argmax)
    } else {
        let relu: Vec<f32> = input.iter().map(|&x| relu_of::<true>(x)).collect();
        max_pool2d_forward_reference(g, &relu, output, argmax)
    }
}

/// With `RELU`, `max(x, 0)` with NaN and both zeros mapped to +0 (`f32::max` leaves the
/// sign of a zero result open: compiled in two places it gave −0 in one, +0 in the other),
/// else `x`.
#[inline(always)]
fn relu_of<const RELU: bool>(x: f32) -> f32 {
    if !RELU || x > 0.0 {
        x
    } else {
        0.0
    }
}

/// The first maximum of `(first, second)` by [`beats`], and whether it is `second`. Written
/// with non-short-circuit `&`/`|` and value selects so it compiles without branches (the
/// branchy form mispredicted on every other window of random data).
#[inline(always)]
fn first_max(first: f32, second: f32) -> (f32, bool) {
    let take = (second > first) | (second.is_nan() & !first.is_nan());
    (if take { second } else { first }, take)
}

/// 2 × 2, stride-2 max pooling as a tournament: the first maximum of each window row, then
/// of the two rows. "First maximum in row-major order, a NaN beating any number, the first
/// NaN winning" is associative this way (a tie or a NaN in the top row keeps the top row's
/// winner, which comes first), so values and argmax equal the reference's bit for bit. The
/// window loop has no branches and no per-tap window arithmetic; measured in the
/// `enn_score_and_grad_w1` bench's profile, the pool's share of the ENN fell from ~12 % (the
/// generic loop) to ~4.6 %.
/// With `RELU`, of `max(x, 0)` ([`max_pool2d_relu_forward`]).
fn max_pool2x2_forward<const RELU: bool>(
    g: &Pool2dGeometry,
    input: &[f32],
    output: &mut [f32],
    argmax: &mut [u32],
) {
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
            let (out_row, arg_row) = (&mut out_row[..ow], &mut arg_row[..ow]);
            for j in 0..ow {
                let (t0, t1) = (relu_of::<RELU>(r0[2 * j]), relu_of::<RELU>(r0[2 * j + 1]));
                let (b0, b1) = (relu_of::<RELU>(r1[2 * j]), relu_of::<RELU>(r1[2 * j + 1]));
                let (m_top, right_top) = first_max(t0, t1);
                let (m_bot, right_bot) = first_max(b0, b1);
                let (m, bottom) = first_max(m_top, m_bot);
                let col = (bottom & right_bot) | (!bottom & right_top);
                out_row[j] = m;
                arg_row[j] = (top + 2 * j) as u32 + col as u32 + (bottom as u32) * w as u32;
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
///
/// Each plane is summed in 8 interleaved lanes (element `i` into lane `i mod 8`, lanes then
/// added in order), which vectorizes; one running sum is a serial chain of dependent adds.
/// The order differs from [`global_avg_pool_forward_reference`]'s, so results may differ in
/// the last bits (both are f32 sums of the same terms).
pub fn global_avg_pool_forward(planes: usize, hw: usize, input: &[f32], output: &mut [f32]) {
    global_avg_pool_lanes::<false>(planes, hw, input, output)
}

/// [`global_avg_pool_forward`] of `max(x, 0)` (NaN and −0 give +0): a ReLU then the pool,
/// bit for bit, without writing the ReLU's output.
pub fn global_avg_pool_relu_forward(planes: usize, hw: usize, input: &[f32], output: &mut [f32]) {
    global_avg_pool_lanes::<true>(planes, hw, input, output)
}

/// [`global_avg_pool_forward`]'s lanes, of `max(x, 0)` when `RELU`.
#[inline(always)]
fn global_avg_pool_lanes<const RELU: bool>(
    planes: usize,
    hw: usize,
    input: &[f32],
    output: &mut [f32],
) {
    const L: usize = 8;
    debug_assert_eq!(input.len(), planes * hw);
    debug_assert_eq!(output.len(), planes);
    for (p, out) in output.iter_mut().enumerate() {
        let plane = &input[p * hw..(p + 1) * hw];
        let mut lanes = [0.0f32; L];
        let mut chunks = plane.chunks_exact(L);
        for c in &mut chunks {
            for (acc, &v) in lanes.iter_mut().zip(c) {
                *acc += relu_of::<RELU>(v);
            }
        }
        for (acc, &v) in lanes.iter_mut().zip(chunks.remainder()) {
            *acc += relu_of::<RELU>(v);
        }
        *out = lanes.iter().sum::<f32>() / hw as f32;
    }
}

/// Global average pooling with one running sum per plane (the reference of
/// [`global_avg_pool_forward`]).
pub fn global_avg_pool_forward_reference(
    planes: usize,
    hw: usize,
    input: &[f32],
    output: &mut [f32],
) {
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
