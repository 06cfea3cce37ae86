//! Where [`ConvGemm::Auto`](super::ConvGemm::Auto) takes the direct kernels of [`conv_direct`]:
//! only where they reproduce the im2col path's bits exactly (the rounding of the product they
//! stand in for on the ISA), and where they measured faster.

use super::{Conv2dGeometry, DIRECT_MAX_REDUCTION};
use crate::kernels::conv_direct::{self, Rounding};
use crate::kernels::isa::{self, Isa};
use crate::kernels::matmul::{packed_k_chunk, small, Gemm};

/// The rounding of the im2col forward ([`ConvGemm::Im2col`](super::ConvGemm::Im2col)) on `isa`,
/// when the direct kernel ([`conv_direct`]) can reproduce it: stride 1, not pointwise, and a
/// product that `small::acc_nn` computes (reduction ≤ [`DIRECT_MAX_REDUCTION`]), that packed
/// sgemm reduces in one K chunk, or that sgemm's unpacked path computes row by row.
pub fn direct_forward_rounding(isa: Isa, g: &Conv2dGeometry) -> Option<Rounding> {
    if !conv_direct::applies(g) || g.is_pointwise() {
        return None;
    }
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if k <= DIRECT_MAX_REDUCTION {
        return Some(Rounding::Tiles);
    }
    let gemm = Gemm {
        beta: 1.0,
        ..Gemm::new(g.c_out, k, p)
    };
    match packed_k_chunk(isa, &gemm) {
        Some(chunk) => (chunk == k).then_some(Rounding::Packed),
        None => (p > 1).then_some(Rounding::Unfused),
    }
}

/// The rounding of the im2col input gradient on `isa`, when the direct kernel can reproduce it
/// (as [`direct_forward_rounding`], for the product `Wᵀ · dY` of reduction `c_out`).
pub fn direct_backward_input_rounding(isa: Isa, g: &Conv2dGeometry) -> Option<Rounding> {
    if !conv_direct::applies(g) || g.is_pointwise() {
        return None;
    }
    let (k, p) = (g.col_rows(), g.out_h() * g.out_w());
    if g.c_out <= DIRECT_MAX_REDUCTION {
        return Some(Rounding::Tiles);
    }
    let gemm = Gemm {
        trans_a: true,
        ..Gemm::new(k, g.c_out, p)
    };
    match packed_k_chunk(isa, &gemm) {
        Some(chunk) => (chunk == g.c_out).then_some(Rounding::Packed),
        None => (p > 1).then_some(Rounding::Unfused),
    }
}

/// Whether [`ConvGemm::Auto`](super::ConvGemm::Auto) takes the direct kernels on `isa` for a
/// product of `rounding`: AVX-512 and AVX2 have register-tiled intrinsics bodies for the fused
/// roundings; the generic bodies (unfused roundings on AVX2, the portable path) are correct and
/// bit-exact but do not keep their accumulators in registers (measured 5-7x slower than
/// im2col). `Auto` also keeps im2col where it measured faster (CPU time, Zen 4 and Zen 2,
/// `GI_CONV_CPU_TABLE=1 cargo bench --bench kernels`): forwards with reductions of at most
/// [`DIRECT_MAX_REDUCTION`] (`small::acc_nn` reads the column matrix in place; the direct
/// tiles' partial-row stores then dominate) and input gradients with fewer than 8 input
/// channels (one tile would be mostly idle).
pub(super) fn direct_pays(isa: Isa, rounding: Rounding) -> bool {
    match isa {
        Isa::Avx512 => true,
        Isa::Avx2Fma => rounding.fused(isa),
        _ => false,
    }
}

/// The reduction chunk of the im2col weight gradient on `isa` when the direct kernel
/// ([`conv_direct::conv2d_backward_weight_direct_with`]) can reproduce it: stride 1, not
/// pointwise, and a product that im2col computes with packed sgemm (not with the `acc_nt`
/// tiles, which it uses for at most [`DIRECT_MAX_REDUCTION`] columns, nor unpacked).
pub fn direct_backward_weight_rounding(isa: Isa, g: &Conv2dGeometry) -> Option<usize> {
    let isa = if isa.is_supported() { isa } else { isa::best() };
    let k = g.col_rows();
    let acc_nt = small::acc_nt_is_fast(isa) && k <= DIRECT_MAX_REDUCTION;
    if acc_nt || !conv_direct::applies(g) || g.is_pointwise() {
        return None;
    }
    let gemm = Gemm {
        beta: 1.0,
        trans_b: true,
        ..Gemm::new(g.c_out, g.out_h() * g.out_w(), k)
    };
    packed_k_chunk(isa, &gemm)
}

/// The chunk with which [`ConvGemm::Auto`](super::ConvGemm::Auto) takes the direct weight
/// gradient: the one of [`direct_backward_weight_rounding`], on AVX2 only. Measured in CPU
/// time with `GI_CONV_CPU_TABLE=1 cargo bench --bench kernels` (columns `dw i2c`, `dw dir`):
/// faster on AVX2 (Zen 2); on AVX-512 (Sapphire Rapids) its zmm tile was 31% faster on the
/// MNIST-sized 32×16×14×14 k32 but 3-4% slower on the ENN's 1×16×7×58 k32, so AVX-512 keeps
/// im2col (docs/measurements.md).
pub(super) fn direct_backward_weight_chunk(isa: Isa, g: &Conv2dGeometry) -> Option<usize> {
    direct_backward_weight_rounding(isa, g).filter(|_| isa == Isa::Avx2Fma)
}
