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

/// One bilinear tap pair `(i0, i1, w0, w1)`, as [`bilinear_taps`] returns it.
type Taps = (usize, usize, f32, f32);

/// The (up to two) source taps of a bilinear output coordinate: `(i0, i1, w0, w1)`.
///
/// The coordinate is computed in f32, as PyTorch's CPU kernel does (`area_pixel_compute_scale`
/// and `area_pixel_compute_source_index` with `opmath_t = float`): with f64 coordinates the
/// weights differ by ~1e-5 at large indices (e.g. 784 columns at scale 0.15), which moves
/// outputs by ~1e-3 when neighbouring pixels differ by ~100.
#[inline]
pub fn bilinear_taps(d: usize, ratio: f64, in_len: usize) -> (usize, usize, f32, f32) {
    let r = ((ratio as f32) * (d as f32 + 0.5) - 0.5).max(0.0);
    // r >= 0, so the truncating cast is its floor (and no libm `floorf` call on targets
    // without a rounding instruction, such as baseline x86-64).
    let i0 = (r as usize).min(in_len - 1);
    let i1 = if i0 + 1 < in_len { i0 + 1 } else { i0 };
    // Clamped to [0, 1] like PyTorch's `guard_index_and_lambda` (r may exceed in_len - 1).
    let w1 = (r - i0 as f32).clamp(0.0, 1.0);
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

/// Tap table of one axis: for each output coordinate, the bilinear source pair and weights
/// (exactly [`bilinear_taps`], computed once per call instead of once per pixel).
fn bilinear_table(out_len: usize, ratio: f64, in_len: usize) -> Vec<Taps> {
    (0..out_len)
        .map(|d| bilinear_taps(d, ratio, in_len))
        .collect()
}

/// Fast bilinear resize: the row and column tap tables are built once, then each output is
/// the same four-term expression as the reference (so results are bit-identical).
/// Overwrites `output`.
pub fn resize_bilinear(g: &ResizeGeometry, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(output.len(), g.output_len());
    if g.output_len() == 0 {
        return;
    }
    if g.input_len() == 0 {
        // Nothing to sample from (the tensor layer rejects this); keep "overwrites" true.
        output.fill(0.0);
        return;
    }
    let rows = bilinear_table(g.out_h, g.ratio_h, g.in_h);
    let cols = bilinear_table(g.out_w, g.ratio_w, g.in_w);
    let in_plane = g.in_h * g.in_w;
    for (src, dst) in input
        .chunks_exact(in_plane)
        .zip(output.chunks_exact_mut(g.out_h * g.out_w))
    {
        for (&(y0, y1, wy0, wy1), out_row) in rows.iter().zip(dst.chunks_exact_mut(g.out_w)) {
            let r0 = &src[y0 * g.in_w..(y0 + 1) * g.in_w];
            let r1 = &src[y1 * g.in_w..(y1 + 1) * g.in_w];
            for (&(x0, x1, wx0, wx1), o) in cols.iter().zip(out_row.iter_mut()) {
                *o = wy0 * (wx0 * r0[x0] + wx1 * r0[x1]) + wy1 * (wx0 * r1[x0] + wx1 * r1[x1]);
            }
        }
    }
}

/// Fast bilinear adjoint with precomputed tap tables; the scatter order matches the
/// reference, so results are bit-identical. Accumulates into `grad_input`.
pub fn resize_bilinear_adjoint(g: &ResizeGeometry, grad_output: &[f32], grad_input: &mut [f32]) {
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(grad_input.len(), g.input_len());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    let rows = bilinear_table(g.out_h, g.ratio_h, g.in_h);
    let cols = bilinear_table(g.out_w, g.ratio_w, g.in_w);
    let in_plane = g.in_h * g.in_w;
    for (dy, dst) in grad_output
        .chunks_exact(g.out_h * g.out_w)
        .zip(grad_input.chunks_exact_mut(in_plane))
    {
        for (&(y0, y1, wy0, wy1), dy_row) in rows.iter().zip(dy.chunks_exact(g.out_w)) {
            for (&(x0, x1, wx0, wx1), &d) in cols.iter().zip(dy_row) {
                dst[y0 * g.in_w + x0] += wy0 * wx0 * d;
                dst[y0 * g.in_w + x1] += wy0 * wx1 * d;
                dst[y1 * g.in_w + x0] += wy1 * wx0 * d;
                dst[y1 * g.in_w + x1] += wy1 * wx1 * d;
            }
        }
    }
}

/// The input rows and columns a bilinear resize reads: both taps of every output row
/// ([`bilinear_taps`] along the height) and of every output column, increasing, each once.
///
/// A bilinear output reads a 2 × 2 neighbourhood whose rows come from the row taps and whose
/// columns from the column taps, so the entries it reads (and the only ones its adjoint
/// writes) are exactly `rows × cols` of each plane: 30 × 234 of a 100 × 784 matrix at scale
/// 0.15, 9 % of it. [`resize_bilinear_adjoint_block`] computes the adjoint on that block only.
#[derive(Clone, Debug, PartialEq)]
pub struct BilinearFootprint {
    in_h: usize,
    in_w: usize,
    rows: Vec<usize>,
    cols: Vec<usize>,
    /// The row and column tap tables with each source index replaced by its position in
    /// `rows` / `cols` (what the block adjoint scatters with).
    row_taps: Vec<Taps>,
    col_taps: Vec<Taps>,
}

impl BilinearFootprint {
    /// The footprint of `g` (of each of its planes).
    pub fn of(g: &ResizeGeometry) -> BilinearFootprint {
        let (rows, row_taps) = axis_footprint(g.out_h, g.ratio_h, g.in_h);
        let (cols, col_taps) = axis_footprint(g.out_w, g.ratio_w, g.in_w);
        BilinearFootprint {
            in_h: g.in_h,
            in_w: g.in_w,
            rows,
            cols,
            row_taps,
            col_taps,
        }
    }
    /// The rows read, increasing.
    pub fn rows(&self) -> &[usize] {
        &self.rows
    }
    /// The columns read, increasing.
    pub fn cols(&self) -> &[usize] {
        &self.cols
    }
    /// Entries of one plane's block, `rows × cols`.
    pub fn block_len(&self) -> usize {
        self.rows.len() * self.cols.len()
    }
}

/// The source indices of one axis that any output coordinate taps (increasing, each once;
/// none for an empty input or output), and the tap table with each index replaced by its
/// position in that list.
fn axis_footprint(out_len: usize, ratio: f64, in_len: usize) -> (Vec<usize>, Vec<Taps>) {
    if in_len == 0 {
        return (Vec::new(), Vec::new());
    }
    let taps = bilinear_table(out_len, ratio, in_len);
    // pos[i]: 1 + the position of source index i in the footprint (0: not tapped).
    let mut pos = vec![0usize; in_len];
    for &(i0, i1, _, _) in &taps {
        pos[i0] = 1;
        pos[i1] = 1;
    }
    let mut read = Vec::new();
    for (i, p) in pos.iter_mut().enumerate() {
        if *p != 0 {
            read.push(i);
            *p = read.len();
        }
    }
    let compact = taps
        .into_iter()
        .map(|(i0, i1, w0, w1)| (pos[i0] - 1, pos[i1] - 1, w0, w1))
        .collect();
    (read, compact)
}

/// [`resize_bilinear_adjoint`] on the footprint only: accumulates `Rᵀ ḡ` restricted to
/// `fp.rows() × fp.cols()` into `block` (planes × `fp.block_len()`, each plane's block
/// row-major), where `fp` is [`BilinearFootprint::of`] `g`. Every entry receives the same
/// terms in the same order as in the dense adjoint (the scatter loop is the same, only the
/// destination index is compacted), so the block equals the dense result's sub-block bit for
/// bit, and the dense adjoint adds nothing outside it. Accumulates into `block`.
pub fn resize_bilinear_adjoint_block(
    g: &ResizeGeometry,
    fp: &BilinearFootprint,
    grad_output: &[f32],
    block: &mut [f32],
) {
    debug_assert_eq!((fp.in_h, fp.in_w), (g.in_h, g.in_w));
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(block.len(), g.planes * fp.block_len());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    debug_assert_eq!((fp.row_taps.len(), fp.col_taps.len()), (g.out_h, g.out_w));
    let (rows, cols, bw) = (&fp.row_taps, &fp.col_taps, fp.cols.len());
    for (dy, dst) in grad_output
        .chunks_exact(g.out_h * g.out_w)
        .zip(block.chunks_exact_mut(fp.block_len()))
    {
        for (&(y0, y1, wy0, wy1), dy_row) in rows.iter().zip(dy.chunks_exact(g.out_w)) {
            for (&(x0, x1, wx0, wx1), &d) in cols.iter().zip(dy_row) {
                dst[y0 * bw + x0] += wy0 * wx0 * d;
                dst[y0 * bw + x1] += wy0 * wx1 * d;
                dst[y1 * bw + x0] += wy1 * wx0 * d;
                dst[y1 * bw + x1] += wy1 * wx1 * d;
            }
        }
    }
}

/// The source index of nearest-neighbour output coordinate `d`: `min(floor(d * ratio), in - 1)`.
/// Computed in f32 as PyTorch does (`nearest_idx` in ATen's UpSample.h), so that floors at
/// near-integer products land on the same side.
#[inline]
pub fn nearest_source(d: usize, ratio: f64, in_len: usize) -> usize {
    (((d as f32) * (ratio as f32)).floor() as usize).min(in_len.saturating_sub(1))
}

/// Nearest-neighbour resize (PyTorch legacy `"nearest"`). Overwrites `output`.
pub fn resize_nearest(g: &ResizeGeometry, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(output.len(), g.output_len());
    if g.output_len() == 0 {
        return;
    }
    if g.input_len() == 0 {
        // Nothing to sample from (the tensor layer rejects this); keep "overwrites" true.
        output.fill(0.0);
        return;
    }
    let cols: Vec<usize> = (0..g.out_w)
        .map(|j| nearest_source(j, g.ratio_w, g.in_w))
        .collect();
    let in_plane = g.in_h * g.in_w;
    for (src, dst) in input
        .chunks_exact(in_plane)
        .zip(output.chunks_exact_mut(g.out_h * g.out_w))
    {
        for (i, out_row) in dst.chunks_exact_mut(g.out_w).enumerate() {
            let y = nearest_source(i, g.ratio_h, g.in_h);
            let row = &src[y * g.in_w..(y + 1) * g.in_w];
            for (o, &x) in out_row.iter_mut().zip(&cols) {
                *o = row[x];
            }
        }
    }
}

/// Adjoint of [`resize_nearest`]: each output gradient goes to its source pixel.
/// Accumulates into `grad_input`.
pub fn resize_nearest_adjoint(g: &ResizeGeometry, grad_output: &[f32], grad_input: &mut [f32]) {
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(grad_input.len(), g.input_len());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    let cols: Vec<usize> = (0..g.out_w)
        .map(|j| nearest_source(j, g.ratio_w, g.in_w))
        .collect();
    let in_plane = g.in_h * g.in_w;
    for (dy, dst) in grad_output
        .chunks_exact(g.out_h * g.out_w)
        .zip(grad_input.chunks_exact_mut(in_plane))
    {
        for (i, dy_row) in dy.chunks_exact(g.out_w).enumerate() {
            let y = nearest_source(i, g.ratio_h, g.in_h);
            let row = &mut dst[y * g.in_w..(y + 1) * g.in_w];
            for (&d, &x) in dy_row.iter().zip(&cols) {
                row[x] += d;
            }
        }
    }
}

/// The source window `[start, end)` of area (adaptive-average-pool) output coordinate `d`:
/// `start = floor(d * in / out)`, `end = ceil((d + 1) * in / out)`, in exact integer
/// arithmetic (ATen's `start_index` / `end_index` in AdaptivePooling.h). Area mode always uses
/// the sizes, never the scale factor: PyTorch's `interpolate(mode="area")` calls
/// `adaptive_avg_pool2d(input, output_size)`.
#[inline]
pub fn area_window(d: usize, in_len: usize, out_len: usize) -> (usize, usize) {
    let start = d * in_len / out_len;
    let end = ((d + 1) * in_len).div_ceil(out_len);
    (start, end)
}

/// Area resize: each output is the mean of its source window. Overwrites `output`.
pub fn resize_area(g: &ResizeGeometry, input: &[f32], output: &mut [f32]) {
    debug_assert_eq!(input.len(), g.input_len());
    debug_assert_eq!(output.len(), g.output_len());
    if g.output_len() == 0 {
        return;
    }
    if g.input_len() == 0 {
        // Nothing to sample from (the tensor layer rejects this); keep "overwrites" true.
        output.fill(0.0);
        return;
    }
    let cols: Vec<(usize, usize)> = (0..g.out_w)
        .map(|j| area_window(j, g.in_w, g.out_w))
        .collect();
    let in_plane = g.in_h * g.in_w;
    for (src, dst) in input
        .chunks_exact(in_plane)
        .zip(output.chunks_exact_mut(g.out_h * g.out_w))
    {
        for (i, out_row) in dst.chunks_exact_mut(g.out_w).enumerate() {
            let (y0, y1) = area_window(i, g.in_h, g.out_h);
            for (o, &(x0, x1)) in out_row.iter_mut().zip(&cols) {
                let mut acc = 0.0f32;
                for y in y0..y1 {
                    acc += src[y * g.in_w + x0..y * g.in_w + x1].iter().sum::<f32>();
                }
                *o = acc / ((y1 - y0) * (x1 - x0)) as f32;
            }
        }
    }
}

/// Adjoint of [`resize_area`]: each input in a window receives `dy / window size`.
/// Accumulates into `grad_input`.
pub fn resize_area_adjoint(g: &ResizeGeometry, grad_output: &[f32], grad_input: &mut [f32]) {
    debug_assert_eq!(grad_output.len(), g.output_len());
    debug_assert_eq!(grad_input.len(), g.input_len());
    if g.output_len() == 0 || g.input_len() == 0 {
        return;
    }
    let cols: Vec<(usize, usize)> = (0..g.out_w)
        .map(|j| area_window(j, g.in_w, g.out_w))
        .collect();
    let in_plane = g.in_h * g.in_w;
    for (dy, dst) in grad_output
        .chunks_exact(g.out_h * g.out_w)
        .zip(grad_input.chunks_exact_mut(in_plane))
    {
        for (i, dy_row) in dy.chunks_exact(g.out_w).enumerate() {
            let (y0, y1) = area_window(i, g.in_h, g.out_h);
            for (&d, &(x0, x1)) in dy_row.iter().zip(&cols) {
                let share = d / ((y1 - y0) * (x1 - x0)) as f32;
                for y in y0..y1 {
                    dst[y * g.in_w + x0..y * g.in_w + x1]
                        .iter_mut()
                        .for_each(|v| *v += share);
                }
            }
        }
    }
}

/// Resize with the given mode (the fast kernels). Overwrites `output`.
pub fn resize(mode: ResizeMode, g: &ResizeGeometry, input: &[f32], output: &mut [f32]) {
    match mode {
        ResizeMode::Bilinear => resize_bilinear(g, input, output),
        ResizeMode::Nearest => resize_nearest(g, input, output),
        ResizeMode::Area => resize_area(g, input, output),
    }
}

/// Adjoint (backward) of [`resize`] with the given mode. Accumulates into `grad_input`.
pub fn resize_adjoint(
    mode: ResizeMode,
    g: &ResizeGeometry,
    grad_output: &[f32],
    grad_input: &mut [f32],
) {
    match mode {
        ResizeMode::Bilinear => resize_bilinear_adjoint(g, grad_output, grad_input),
        ResizeMode::Nearest => resize_nearest_adjoint(g, grad_output, grad_input),
        ResizeMode::Area => resize_area_adjoint(g, grad_output, grad_input),
    }
}
