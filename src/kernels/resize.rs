//! Resizing `planes` independent 2-D maps, with PyTorch `F.interpolate` semantics
//! (`align_corners=False`).
//!
//! * Given a scale factor `s`, the output size is `floor(in * s)` and the coordinate map uses
//!   `1 / s` (PyTorch's behaviour when `scale_factor` is passed and
//!   `recompute_scale_factor` is not set). Given an output size, it uses `in / out`.
//! * Bilinear: output pixel `d` reads source coordinate `r = max(0, (d + 0.5) * ratio - 0.5)`,
//!   interpolating between `floor(r)` and the next pixel (clamped at the edge).
//! * Nearest: `src = min(floor(d * ratio), in - 1)` (PyTorch's legacy `"nearest"`).
//! * Area: adaptive average pooling, window `[floor(d * in / out), ceil((d + 1) * in / out))`.
//!
//! Each resize is a linear map R; its adjoint R^T (the backward pass) scatters each output
//! gradient back with the same weights, so `<R x, y> = <x, R^T y>`. Adjoints accumulate.

/// Sizes and coordinate ratios of one resize.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ResizeGeometry {
    /// Number of independent maps.
    pub planes: usize,
    /// Input height.
    pub in_h: usize,
    /// Input width.
    pub in_w: usize,
    /// Output height.
    pub out_h: usize,
    /// Output width.
    pub out_w: usize,
    /// Source pixels per output pixel, vertically (`1 / scale` or `in_h / out_h`).
    pub ratio_h: f64,
    /// Source pixels per output pixel, horizontally.
    pub ratio_w: f64,
}

impl ResizeGeometry {
    /// Resize by a scale factor: output side `floor(in * scale)`, coordinates via `1 / scale`.
    pub fn by_scale(planes: usize, in_h: usize, in_w: usize, scale: f64) -> Self {
        ResizeGeometry {
            planes,
            in_h,
            in_w,
            out_h: (in_h as f64 * scale).floor() as usize,
            out_w: (in_w as f64 * scale).floor() as usize,
            ratio_h: 1.0 / scale,
            ratio_w: 1.0 / scale,
        }
    }

    /// Resize to an explicit output size: coordinates via `in / out`.
    pub fn by_size(planes: usize, in_h: usize, in_w: usize, out_h: usize, out_w: usize) -> Self {
        ResizeGeometry {
            planes,
            in_h,
            in_w,
            out_h,
            out_w,
            ratio_h: in_h as f64 / out_h as f64,
            ratio_w: in_w as f64 / out_w as f64,
        }
    }

    /// Elements of the input.
    pub fn input_len(&self) -> usize {
        self.planes * self.in_h * self.in_w
    }
    /// Elements of the output.
    pub fn output_len(&self) -> usize {
        self.planes * self.out_h * self.out_w
    }
}

/// Which interpolation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ResizeMode {
    /// Bilinear, `align_corners=False`.
    Bilinear,
    /// Nearest neighbour (PyTorch legacy `"nearest"`).
    Nearest,
    /// Area (adaptive average pooling).
    Area,
}

/// The (up to two) source taps of a bilinear output coordinate: `(i0, i1, w0, w1)`.
#[inline]
pub fn bilinear_taps(d: usize, ratio: f64, in_len: usize) -> (usize, usize, f32, f32) {
    let r = ((d as f64 + 0.5) * ratio - 0.5).max(0.0);
    let i0 = (r.floor() as usize).min(in_len - 1);
    let i1 = if i0 + 1 < in_len { i0 + 1 } else { i0 };
    let w1 = (r - i0 as f64) as f32;
    (i0, i1, 1.0 - w1, w1)
}

/// Bilinear resize by the definition. Overwrites `output`.
pub fn resize_bilinear_reference(g: &ResizeGeometry, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(output.len(), g.output_len());
    for p in 0..g.planes {
        let src = &input[p * g.in_h * g.in_w..(p + 1) * g.in_h * g.in_w];
        for i in 0..g.out_h {
            let (y0, y1, wy0, wy1) = bilinear_taps(i, g.ratio_h, g.in_h);
            for j in 0..g.out_w {
                let (x0, x1, wx0, wx1) = bilinear_taps(j, g.ratio_w, g.in_w);
                let v = wy0 * (wx0 * src[y0 * g.in_w + x0] + wx1 * src[y0 * g.in_w + x1])
                    + wy1 * (wx0 * src[y1 * g.in_w + x0] + wx1 * src[y1 * g.in_w + x1]);
                output[(p * g.out_h + i) * g.out_w + j] = v;
            }
        }
    }
}

/// Adjoint of bilinear resize by the definition. Accumulates into `grad_input`.
pub fn resize_bilinear_adjoint_reference(
    g: &ResizeGeometry,
    grad_output: &[f32],
    grad_input: &mut [f32],
) {
    for p in 0..g.planes {
        let dst = &mut grad_input[p * g.in_h * g.in_w..(p + 1) * g.in_h * g.in_w];
        for i in 0..g.out_h {
            let (y0, y1, wy0, wy1) = bilinear_taps(i, g.ratio_h, g.in_h);
            for j in 0..g.out_w {
                let (x0, x1, wx0, wx1) = bilinear_taps(j, g.ratio_w, g.in_w);
                let d = grad_output[(p * g.out_h + i) * g.out_w + j];
                dst[y0 * g.in_w + x0] += wy0 * wx0 * d;
                dst[y0 * g.in_w + x1] += wy0 * wx1 * d;
                dst[y1 * g.in_w + x0] += wy1 * wx0 * d;
                dst[y1 * g.in_w + x1] += wy1 * wx1 * d;
            }
        }
    }
}

/// Fast bilinear resize (placeholder: the reference). Overwrites `output`.
pub fn resize_bilinear(g: &ResizeGeometry, input: &[f32], output: &mut [f32]) {
    resize_bilinear_reference(g, input, output)
}

/// Fast bilinear adjoint (placeholder: the reference). Accumulates into `grad_input`.
pub fn resize_bilinear_adjoint(g: &ResizeGeometry, grad_output: &[f32], grad_input: &mut [f32]) {
    resize_bilinear_adjoint_reference(g, grad_output, grad_input)
}
