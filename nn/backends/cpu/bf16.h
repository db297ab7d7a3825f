// The bfloat16 kernels behind the cpu backend's bf16 primitives (bf16.cpp): a GEMM on AMX tiles (tdpbf16ps: a
// 16 × 16 × 32 product per instruction), one on AVX512_BF16 (vdpbf16ps, two products per 32-bit lane), and the
// memory-bound depthwise, pooling and batch-norm kernels, which load bf16, compute in f32 registers and round once on
// the store — half the bytes of their f32 twins. Like the f32 kernels, each is compiled per instruction-set level
// (isa.h); the GEMMs for the avx512 level only, with -mavx512bf16 -mamx-tile -mamx-bf16, and called only where
// cpu_supports_amx() / cpu_supports_bf16().
#pragma once

#include <cstdint>

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"
#include "nn/core/dtype.h"

namespace nn::kernels {

/// C (M,N) = α·op(A)·op(B) + bias + β·C with A and B bf16 (GemmShape's transposes and leading dimensions, in
/// elements; lda and ldb may be shorter than a row), products accumulated in f32; bias (N, f32) may be null; C f32
/// or bf16 (`c_type`; a bf16 C is rounded once from the f32 result, and read back as f32 where β ≠ 0).
/// Packing: B as panels of 32 columns with depth pairs interleaved (b(k,j), b(k+1,j) in one 32-bit lane), A as
/// micro-panels of 14 rows of depth pairs broadcast as 32 bits; an odd K is padded with a zero. Threads over row
/// blocks and column panels, as gemm<Isa::avx512>. Defined for Isa::avx512 on x86-64 only (gemm_bf16_fast.cpp).
template <Isa>
void gemm_bf16(const GemmShape& s, float alpha, const bfloat16* a, const bfloat16* b, float beta, const float* bias,
               DType c_type, void* c);

/// The same product on AMX: 32 × 32 blocks of C in four f32 tiles, A packed as 32-row blocks of 32-depth steps,
/// B as above with the depth padded to a multiple of 32. Defined for Isa::avx512 on x86-64 only; needs the tile
/// data permission cpu_supports_amx() asks the kernel for.
template <Isa>
void gemm_bf16_amx(const GemmShape& s, float alpha, const bfloat16* a, const bfloat16* b, float beta, const float* bias,
                   DType c_type, void* c);

/// y (N,OH,OW,C) bf16 = depthwise conv of x (N,H,W,C) bf16 with w (KH,KW,C) bf16 + bias (C, f32, may be null),
/// summed in f32 and rounded once; vectorised along channels, threads over output rows (bf16_fast.cpp).
template <Isa>
void depthwise_forward_bf16(const Window2D& g, const bfloat16* x, const bfloat16* w, const float* bias, bfloat16* y);

/// y (N,OH,OW,C) bf16 = max (exact) or average (f32 sum over the real pixels, rounded once) of each window of x.
template <Isa>
void pool_forward_bf16(Pool kind, const Window2D& g, const bfloat16* x, bfloat16* y);

/// y (rows, C) bf16 = γ·(x − mean)·inv_std + β per channel, in f32, rounded once.
template <Isa>
void channel_affine_bf16(int64_t rows, int64_t channels, const ChannelAffine& p, const bfloat16* x, bfloat16* y);

/// y (n) f32 = x bf16, exact. One thread: the callers thread over runs.
template <Isa>
void widen_bf16(int64_t n, const bfloat16* x, float* y);

/// y (n) bf16 = x f32 rounded to nearest even (a NaN stays a quiet NaN), as nn::to_bfloat16. One thread.
template <Isa>
void narrow_to_bf16(int64_t n, const float* x, bfloat16* y);

/// y (n) = max(x, 0) on bf16, exact (NaN gives 0, as the f32 relu); y may be x. One thread.
template <Isa>
void relu_bf16(int64_t n, const bfloat16* x, bfloat16* y);

}  // namespace nn::kernels
