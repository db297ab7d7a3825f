// GEMM: C (M,N) = alpha · op(A) · op(B) + beta · C, row-major, op(X) = X or Xᵀ. gemm() routes by the active
// instruction-set level (isa.h) and the shape (gemm.cpp): one row of A times a row-major B (rows ≥ N apart) through
// OpenBLAS's sgemv (a decoder step; at avx512 only when the product has no bias or fewer than 32,768 multiply-adds); at
// the avx512 level, our AVX-512 kernel (gemm<Isa::avx512>) for products of 32,768 multiply-adds or more and for smaller
// ones with a leading dimension shorter than a row; below it, gemm_narrow (A not transposed, N, K ≤ 64, M ≥ 512),
// gemm_panels (at the avx2 level: A not transposed, K ≤ 288, 32 ≤ N ≤ 768, M ≥ 512) and gemm_long (Aᵀ·B, M ≤ 64,
// N ≤ 32, K ≥ 2,048), gemm_ref where a leading dimension is shorter than a row; OpenBLAS sgemm for the rest — one
// single-threaded call per thread on a band of columns for M ≤ 256, N ≥ 512, K ≥ 256 below avx512 with two threads
// or more, outside a parallel region (gemm.cpp's column_bands). Its frozen naive twin, gemm_ref, is the reference
// backend's (nn/backends/ref/loops.h).
#pragma once

#include "nn/backends/cpu/isa.h"
#include "nn/backends/primitives.h"

namespace nn::kernels {

// With `bias` (N, may be null): C = alpha · op(A) · op(B) + bias + beta · C, the bias added in the AVX-512 kernel's
// and gemm_panels's store (a convolution's bias costs no pass of its own there); elsewhere C starts as the bias when
// beta is 0 (the product then added to it), else the bias is added after the product.
void gemm(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
          const float* bias = nullptr);

// Whether gemm() runs this product on gemm_panels (at the avx2 level; gemm.cpp says where it was measured): the
// implicit-GEMM convolution asks the same question of its own product.
bool gemm_takes_panels(const GemmShape& s);

// A narrow, shallow product — A not transposed, N ≤ kNarrowMaxN, K ≤ kNarrowMaxK —, as the first layers of a small
// CNN make (N = 4–16 channels, K = 8–36 taps or channels, M = tens of thousands of pixels): op(B) copied once into
// a block that stays in L1, then each row of C summed in vector registers. OpenBLAS's tiles ran such products at
// 6–16 GFLOP/s on a 2-core Zen 3 (train_shapes's compact Xception). Any lda and ldb, shorter than a row too; ldc ≥ N.
// The same bits on any thread count. Compiled for every level (gemm_narrow_fast.cpp); gemm() calls it for those of
// 512 rows or more below AVX-512. Throws std::invalid_argument for a shape outside those bounds (both kernels).
inline constexpr int kNarrowMaxN = 64, kNarrowMaxK = 64;
template <Isa>
void gemm_narrow(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);
// Its transpose for weight gradients: A transposed, M and N ≤ kNarrowMaxN, a long depth (K = pixels); gemm() calls
// it for N ≤ 32 and K ≥ 2,048 with B not transposed below AVX-512 (gemm.cpp's measurements). Each thread
// sums a slice of the depths into its own M × N sums, blocks of depths at a time in registers; the slices are then
// added up in thread order (so the result depends on the thread count, as OpenBLAS's does).
template <Isa>
void gemm_long(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);

// A product of a shallow depth, A not transposed — K ≤ kPanelsMaxK, as the separable convolutions' pointwise layers
// and a small CNN's make (M = pixels, N = output channels, K = input channels, or 9 × 32 for a 3 × 3 convolution of
// 32 channels through im2col) —: op(B) packed into panels of 16 columns (at most 18 KB: a panel stays in L1), A read in
// place, C computed 6 rows × 16 columns at a time in registers, with the bias (N, may be null) added in the store: C =
// alpha · A · op(B) + bias + beta · C. OpenBLAS packs A as well and zeroes C first; on a 2-core Zen 3 this kernel ran
// the pointwise layers of Xception's entry flow 1.05–1.3× as fast, and its second convolution about 1.6× (gemm.cpp).
// Any lda and ldb, shorter than a row too; ldc ≥ N. The same bits on any thread count (every element sums its K
// products in order). Compiled for every level (gemm_narrow_fast.cpp); gemm() calls it at the avx2 level for 512 rows
// or more and 32 ≤ N ≤ 768 where gemm_narrow does not take the product. Throws std::invalid_argument for a transposed A
// or K > kPanelsMaxK, and for `windows` that do not divide K or keep more rows than they have.
//
// `windows` reads A's rows as the windows of an unpadded stride-1 convolution and writes C's as its output pixels —
// the implicit GEMM, with no im2col: row i of A is `taps` runs of K / taps floats, `tap_stride` floats apart, the first
// at a + i·lda (a KH × KW window's KH rows of KW·C floats, W·C apart in the image, with lda = C: consecutive pixels);
// and with `wide` > 0, C is computed `wide` rows per output row of which only the first `kept` are stored, row i at
// c + ((i / wide)·kept + i mod wide)·ldc (the image's W columns, of which the last KW − 1 windows wrap into the next
// image row). The default is a plain matrix.
struct PanelWindows {
  int taps = 1;
  long tap_stride = 0;
  int wide = 0;  // 0: every row stored, row i at c + i·ldc
  int kept = 0;
};
inline constexpr int kPanelsMaxK = 288;
template <Isa>
void gemm_panels(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
                 const float* bias = nullptr, const PanelWindows& windows = {});

// An AVX-512 SGEMM in the BLIS style — packed panels, a 14×32 register-blocked micro-kernel (gemm_avx512.cpp). It
// exists because OpenBLAS is pinned to its AVX2 kernels on machines it does not know (OPENBLAS_CORETYPE=Haswell on
// this project's Zen 5 machines), which halves its speed there. Defined for Isa::avx512 only, on x86-64; unlike
// OpenBLAS it also takes leading dimensions shorter than a row (overlapping rows, as implicit GEMMs read an image), as
// gemm_narrow and gemm_long do.
template <Isa>
void gemm(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
          const float* bias = nullptr);

}  // namespace nn::kernels
