#include "nn/backends/cpu/gemm.h"

#include <cblas.h>
#include <omp.h>

#include <algorithm>

#include "nn/backends/ref/loops.h"

namespace nn::kernels {
namespace {

struct Strides {
  int lda, ldb, ldc;
};

Strides strides_of(const GemmShape& s) {
  return {s.lda ? s.lda : (s.transpose_a ? s.m : s.k), s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n),
          s.ldc ? s.ldc : s.n};
}

// Our AVX-512 GEMM (gemm_avx512.cpp, built on x86-64 only; called only when the active level is avx512).
void gemm_fast(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c,
               const float* bias = nullptr) {
#if defined(__x86_64__)
  gemm<Isa::avx512>(s, alpha, a, b, beta, c, bias);
#else
  gemm_ref(s, alpha, a, b, beta, c);
  (void)bias;
#endif
}

// Whether gemm_narrow takes the product instead of OpenBLAS: narrow and shallow enough for it, and 512 rows or more.
// Measured on the 2-core Zen 3, each shape both ways (2 threads, β = 0): 64,800×16×16 710 → 378 µs, 64,800×8×36
// 1,993 → 990, 177,608×32×27 (Xception's first convolution at batch 8) 10.4 → 4.3 ms, 4,608×64×64 405 → 321 µs,
// 512×32×27 17.3 → 12.2 µs; 256×8×9 2.4 → 3.6 µs, so not below 512 rows.
bool narrow_pays(const GemmShape& s) {
  return !s.transpose_a && s.n <= kNarrowMaxN && s.k <= kNarrowMaxK && s.m >= 512;
}
// … and where gemm_long does: a weight gradient's shape, A transposed, B not, M ≤ 64, N ≤ 32, K ≥ 2,048. Both ways
// on the same machine (2 threads): 27×4×70,688 1.85–2.45 → 1.26–1.48 ms, 16×16×64,800 0.75–0.86 → 0.43–0.51 ms,
// 8×16×64,800 0.79–0.85 → 0.21–0.22 ms, 32×32×16,928 0.39–0.52 → 0.32–0.34 ms, 27×32×177,608 (Xception's first
// convolution at batch 8) 9.5–11.0 → 4.7 ms, 36×8×2,048 63–65 → 43–45 µs; but 64×64×4,608 0.29–0.38 → 0.47–0.52 ms
// and B transposed 16×16×1,024 11 → 31 µs, hence the bounds.
bool long_pays(const GemmShape& s) {
  return s.transpose_a && !s.transpose_b && s.m <= kNarrowMaxN && s.n <= 32 && s.k >= 2048;
}

// … and where OpenBLAS runs faster given each thread a band of C's columns (a one-thread sgemm each: OpenBLAS's OpenMP
// build runs single-threaded inside a parallel region) than splitting the product itself: few rows, many columns,
// not inside a parallel region already. OpenBLAS's own split of such a product (its threads share the packing of B
// and wait on each other) ran slower on the 2-core Zen 3 (session 18; 2 threads, GFLOP/s, four alternated rounds):
// the exit flow's pointwise layers at batch 1, 100×1,024×728 102–130 → 125–155, 100×1,536×1,024 105–112 → 130–134,
// 100×2,048×1,536 103–107 → 124–129; 200×2,048×1,536 120–123 → 131–140; 20×1,024×512 49–59 → 92–109;
// 3×7,579×256 (beam 3's output layer) 16–19 → 22–24; level at 64×1,024×256, 64×7,579×256 and 361×728×728.
bool column_bands_pay(const GemmShape& s) {
  return s.m <= 256 && s.n >= 512 && s.k >= 256 && !omp_in_parallel() && omp_get_max_threads() > 1;
}

// OpenBLAS's sgemm on C's columns [j0, j1).
void blas_columns(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c, int j0,
                  int j1) {
  const Strides ld = strides_of(s);
  cblas_sgemm(CblasRowMajor, s.transpose_a ? CblasTrans : CblasNoTrans, s.transpose_b ? CblasTrans : CblasNoTrans, s.m,
              j1 - j0, s.k, alpha, a, ld.lda, b + (s.transpose_b ? long{j0} * ld.ldb : j0), ld.ldb, beta, c + j0,
              ld.ldc);
}

void column_bands(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
  const int team = std::min(omp_get_max_threads(), s.n / 256), vectors = s.n / 16;
#pragma omp parallel num_threads(team)
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    // Whole vectors a band, the last one to N; every band ≥ 256 columns (team ≤ N / 256).
    blas_columns(s, alpha, a, b, beta, c, 16 * (vectors * t / n), t + 1 == n ? s.n : 16 * (vectors * (t + 1) / n));
  }
}

// C = alpha · op(A) · op(B) + beta · C by the fastest route for the shape (without a bias).
void product(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c);

}  // namespace

// Where gemm_panels takes the product (gemm.h), at the avx2 level (measured there; at the scalar level its 6 × 16 sums
// would not fit SSE2's registers): A not transposed, K ≤ 288, 32 ≤ N ≤ 768, 512 rows or more, where gemm_narrow does
// not. Both ways on the same machine (2 threads, OpenBLAS with β = 0, gemm_panels adding a bias too; best of 3 × 30,
// two runs): Xception's pointwise layers at batch 1 21,609×128×64 2.96–3.18 → 2.33–2.45 ms, 5,476×256×128 2.43–2.56 →
// 2.07–2.13, 1,369×728×256 3.16–3.20 → 2.91–2.99, and at batch 8 2,888×728×256 6.72–7.53 → 6.38–6.96; block1_conv2
// (3 × 3, 32 → 64 channels: im2col, then 21,025×64×288), in conv_kernels, forward 12.8–15.6 → 7.5–11.8 ms (75–87 %
// → 118–140 % of plain sgemm's speed on the shape in the same run), hence K up to 288 (a panel of 18 KB). Wider
// products ran level (the decoder's 916×7,579×256 and 1,280×1,024×256: 0.96–1.03×), deeper ones slower (K in blocks
// of 256: 0.65–0.96×), and at 96 rows (96×736×256) packing op(B) was not paid back (0.93×): those stay on OpenBLAS,
// as do fewer than 32 columns (most of a panel's 16 lanes idle; not measured).
bool gemm_takes_panels(const GemmShape& s) {
  return active_isa() == Isa::avx2 && !s.transpose_a && s.k <= kPanelsMaxK && s.n >= 32 && s.n <= 768 && s.m >= 512 &&
         !narrow_pays(s);
}

void gemm(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c, const float* bias) {
  if (s.m == 0 || s.n == 0) return;
#if defined(__x86_64__)
  if (bias != nullptr && active_isa() == Isa::avx512 && static_cast<double>(s.m) * s.n * s.k >= 32768.0) {
    gemm_fast(s, alpha, a, b, beta, c, bias);  // the bias added in the kernel's store
    return;
  }
#endif
  if (gemm_takes_panels(s)) {  // the bias, if any, added in the kernel's store
    with_active_isa([&]<Isa isa> { gemm_panels<isa>(s, alpha, a, b, beta, c, bias); });
    return;
  }
  if (bias == nullptr) {
    product(s, alpha, a, b, beta, c);
    return;
  }
  const long ldc = s.ldc ? s.ldc : s.n;
  const bool big = static_cast<long>(s.m) * s.n > (1 << 16);
  if (beta == 0.0f) {
    // C filled with the bias, then the product added to it (beta 1): one pass over C before the product rather than
    // two (OpenBLAS zeroes C for beta 0) and one after.
#pragma omp parallel for if (big)
    for (int i = 0; i < s.m; ++i) std::copy_n(bias, s.n, c + i * ldc);
    product(s, alpha, a, b, 1.0f, c);
    return;
  }
  product(s, alpha, a, b, beta, c);
#pragma omp parallel for if (big)
  for (int i = 0; i < s.m; ++i)
    for (int j = 0; j < s.n; ++j) c[i * ldc + j] += bias[j];
}

namespace {

void product(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
#if defined(__x86_64__)
  const bool avx512 = active_isa() == Isa::avx512;
#else
  constexpr bool avx512 = false;  // gemm<Isa::avx512> exists on x86-64 only
#endif
  // One row times a matrix (a decoder step): a matrix-vector product, which sgemv does without tiles of 14 rows.
  if (s.m == 1 && !s.transpose_b && (s.ldb == 0 || s.ldb >= s.n)) {
    const int ldb = s.ldb ? s.ldb : s.n;
    const int inc_a = s.transpose_a ? (s.lda ? s.lda : 1) : 1;
    // c (1×N) = alpha · a (1×K) · B (K×N) + beta · c: Bᵀ·a with B row-major is sgemv on the transposed view.
    cblas_sgemv(CblasRowMajor, CblasTrans, s.k, s.n, alpha, b, ldb, a, inc_a, beta, c, 1);
    return;
  }
  // Our AVX-512 kernel where the processor has it and the product is big enough to pay for packing.
  if (avx512 && static_cast<double>(s.m) * s.n * s.k >= 32768.0) {
    gemm_fast(s, alpha, a, b, beta, c);
    return;
  }
  // A tall, narrow, shallow product (a small CNN's first layers), or a weight gradient of few rows and columns over
  // many pixels, below AVX-512: our narrow kernels (gemm.h). At AVX-512 the kernel above takes those of 32,768
  // multiply-adds or more (not measured against these), OpenBLAS the rest.
  if (!avx512 && narrow_pays(s)) {
    with_active_isa([&]<Isa isa> { gemm_narrow<isa>(s, alpha, a, b, beta, c); });
    return;
  }
  if (!avx512 && long_pays(s)) {
    with_active_isa([&]<Isa isa> { gemm_long<isa>(s, alpha, a, b, beta, c); });
    return;
  }
  Strides ld = strides_of(s);
  // BLAS refuses leading dimensions shorter than a row (overlapping rows, which the implicit-GEMM convolutions
  // use); they only reach here without AVX-512 on a small product, and take the reference loop.
  if (ld.lda < (s.transpose_a ? s.m : s.k) || ld.ldb < (s.transpose_b ? s.k : s.n)) {
    if (avx512) {
      gemm_fast(s, alpha, a, b, beta, c);
    } else {
      gemm_ref(s, alpha, a, b, beta, c);
    }
    return;
  }
  if (column_bands_pay(s)) {
    column_bands(s, alpha, a, b, beta, c);
    return;
  }
  blas_columns(s, alpha, a, b, beta, c, 0, s.n);
}

}  // namespace

}  // namespace nn::kernels
