//! The by-definition references: direct loops over the sums of the module docs, accumulated
//! in f64 (the input gradient in f32, term by term), the oracle every fast path is tested
//! against.

use super::Conv2dGeometry;

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
