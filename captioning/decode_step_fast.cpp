// The few-row product of decode_step.h: c (M, N) += a (M, K) · b (K, N), b streamed once for all rows. A kernel file
// (its name ends in _fast.cpp): its only code beyond baseline x86-64 is the level-specific copies below, which
// scripts/check_isa.sh accepts there and nowhere else.
#include <algorithm>
#include <vector>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <nn/backends/cpu/isa.h>

#include "captioning/decode_step.h"

namespace captioning {

namespace {

constexpr int64_t kBlock = 512;  // columns of b per block: a 2 KB run of each of its rows, read in order
constexpr int kRowGroup = 4;     // rows of c per pass over a block: 4 × 2 KB of c and 4 rows × 2 KB of b in L1
constexpr int64_t kBufferRow = kBlock + 16;  // floats between rows of rows_gemm_add's buffer of c: 2 KB + one line

// c (R, width) += a (R, K) · b (K, width) for one column block: b is streamed four rows at a time, each vector of
// them loaded once and multiplied into all R rows of c, which stay in the L1 cache. Rows of a are lda apart, of b and
// c ldb and ldc apart. c[r][j] gets a[r][0]·b[0][j], then a[r][1]·b[1][j], … in that order, whatever R is.
template <int R>
__attribute__((always_inline)) inline void block(int64_t width, int64_t k, const float* a, int64_t lda, const float* b,
                                                 int64_t ldb, float* __restrict c, int64_t ldc) {
  int64_t kk = 0;
  for (; kk + 4 <= k; kk += 4) {  // four rows of b per pass over c: a quarter of the L1 traffic, four read streams
    const float* __restrict b0 = b + kk * ldb;
    const float* __restrict b1 = b0 + ldb;
    const float* __restrict b2 = b1 + ldb;
    const float* __restrict b3 = b2 + ldb;
    float s[R][4];
    for (int r = 0; r < R; ++r)
      for (int q = 0; q < 4; ++q) s[r][q] = a[r * lda + kk + q];
        // Each vector of the four rows of b is loaded once and multiplied into every row of c.
#pragma omp simd
    for (int64_t j = 0; j < width; ++j) {
      const float v0 = b0[j], v1 = b1[j], v2 = b2[j], v3 = b3[j];
      for (int r = 0; r < R; ++r) {
        float& x = c[r * ldc + j];
        x = (((x + s[r][0] * v0) + s[r][1] * v1) + s[r][2] * v2) + s[r][3] * v3;
      }
    }
  }
  for (; kk < k; ++kk) {
    const float* __restrict row = b + kk * ldb;
    for (int r = 0; r < R; ++r) {
      const float s0 = a[r * lda + kk];
      float* __restrict cr = c + r * ldc;
#pragma omp simd
      for (int64_t j = 0; j < width; ++j) cr[j] += s0 * row[j];
    }
  }
}

// One group of up to kRowGroup rows, R chosen at run time.
__attribute__((always_inline)) inline void row_group(int rows, int64_t width, int64_t k, const float* a, const float* b,
                                                     int64_t ldb, float* c, int64_t ldc) {
  switch (rows) {
    case 1:
      return block<1>(width, k, a, k, b, ldb, c, ldc);
    case 2:
      return block<2>(width, k, a, k, b, ldb, c, ldc);
    case 3:
      return block<3>(width, k, a, k, b, ldb, c, ldc);
    default:
      return block<4>(width, k, a, k, b, ldb, c, ldc);
  }
}

#if defined(__x86_64__)
// At AVX-512, R rows × W vectors of c held in registers over the whole depth: each depth step loads W vectors of b
// (kept in registers: GCC 12 would fold them into each row's FMA), asks for the same vectors kPrefetchRows rows on (b's
// rows are 4 KB apart for the LSTM's kernels, a stride the hardware prefetchers served poorly: h·R for one row 7.3 →
// 5.9 µs) and broadcasts R values of a; c is loaded once and stored once. The same FMAs in the same order as block<R>
// (c, then a[r][0]·b[0][j], a[r][1]·b[1][j], …): the same bits. `last` masks the strip's last vector (a block's width
// need not be a multiple of 16). Against block<R>, on 2 threads of an Intel Xeon: h·R (K = 256, N = 1,024) 1 row
// 6.9 → 6.0 µs, 3 rows 9.8 → 7.9; the merge layer (256 × 256, one thread) 1 row 3.1 → 2.7, 3 rows 4.3 → 3.8–4.1.
constexpr int64_t kPrefetchRows = 4;
template <int R, int W>
__attribute__((target("arch=x86-64-v4"), always_inline)) inline void strip_avx512(int64_t k, const float* a,
                                                                                  int64_t lda, const float* b,
                                                                                  int64_t ldb, float* c, int64_t ldc,
                                                                                  __mmask16 last) {
  __m512 acc[R][W];
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w)
      acc[r][w] = _mm512_maskz_loadu_ps(w == W - 1 ? last : __mmask16{0xFFFF}, c + r * ldc + 16 * w);
  for (int64_t kk = 0; kk < k; ++kk) {
    const float* bk = b + kk * ldb;
    for (int w = 0; w < W; ++w)
      _mm_prefetch(reinterpret_cast<const char*>(bk + kPrefetchRows * ldb + 16 * w), _MM_HINT_T0);
    __m512 bv[W];
    for (int w = 0; w < W; ++w) {
      bv[w] = _mm512_maskz_loadu_ps(w == W - 1 ? last : __mmask16{0xFFFF}, bk + 16 * w);
      if constexpr (R > 1) asm("" : "+v"(bv[w]));
    }
    for (int r = 0; r < R; ++r) {
      const __m512 av = _mm512_set1_ps(a[r * lda + kk]);
      for (int w = 0; w < W; ++w) acc[r][w] = _mm512_fmadd_ps(av, bv[w], acc[r][w]);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int w = 0; w < W; ++w)
      _mm512_mask_storeu_ps(c + r * ldc + 16 * w, w == W - 1 ? last : __mmask16{0xFFFF}, acc[r][w]);
}

// R rows over a block's width: strips of W vectors — R·W sums, W vectors of b and a broadcast within the 32
// registers —, then one strip of the vectors left.
template <int R>
__attribute__((target("arch=x86-64-v4"), always_inline)) inline void rows_avx512(int64_t width, int64_t k,
                                                                                 const float* a, const float* b,
                                                                                 int64_t ldb, float* c, int64_t ldc) {
  constexpr int W = R <= 2 ? 8 : R == 3 ? 6 : 5;
  const int64_t vectors = (width + 15) / 16;
  const __mmask16 tail = width % 16 ? static_cast<__mmask16>((1u << (width % 16)) - 1) : __mmask16{0xFFFF};
  int64_t v = 0;
  for (; v + W <= vectors; v += W)
    strip_avx512<R, W>(k, a, k, b + 16 * v, ldb, c + 16 * v, ldc, v + W == vectors ? tail : __mmask16{0xFFFF});
  const float* bv = b + 16 * v;
  float* cv = c + 16 * v;
  switch (vectors - v) {  // fewer than W
    case 1:
      return strip_avx512<R, 1>(k, a, k, bv, ldb, cv, ldc, tail);
    case 2:
      return strip_avx512<R, 2>(k, a, k, bv, ldb, cv, ldc, tail);
    case 3:
      return strip_avx512<R, 3>(k, a, k, bv, ldb, cv, ldc, tail);
    case 4:
      return strip_avx512<R, 4>(k, a, k, bv, ldb, cv, ldc, tail);
    case 5:
      if constexpr (W > 5) return strip_avx512<R, 5>(k, a, k, bv, ldb, cv, ldc, tail);
      break;
    case 6:
      if constexpr (W > 6) return strip_avx512<R, 6>(k, a, k, bv, ldb, cv, ldc, tail);
      break;
    case 7:
      if constexpr (W > 7) return strip_avx512<R, 7>(k, a, k, bv, ldb, cv, ldc, tail);
      break;
    default:
      break;
  }
}

__attribute__((target("arch=x86-64-v4"))) void row_group_avx512(int rows, int64_t width, int64_t k, const float* a,
                                                                const float* b, int64_t ldb, float* c, int64_t ldc) {
  switch (rows) {
    case 1:
      return rows_avx512<1>(width, k, a, b, ldb, c, ldc);
    case 2:
      return rows_avx512<2>(width, k, a, b, ldb, c, ldc);
    case 3:
      return rows_avx512<3>(width, k, a, b, ldb, c, ldc);
    default:
      return rows_avx512<4>(width, k, a, b, ldb, c, ldc);
  }
}
#endif

// The group compiled for each instruction-set level (the library itself targets baseline x86-64), chosen by the
// level nn::kernels::active_isa() names — NN_ISA included — as every dispatched kernel is (nn/backends/cpu/isa.h).
#if defined(__x86_64__)
__attribute__((target("arch=x86-64-v3"))) void row_group_avx2(int rows, int64_t width, int64_t k, const float* a,
                                                              const float* b, int64_t ldb, float* c, int64_t ldc) {
  row_group(rows, width, k, a, b, ldb, c, ldc);
}
#endif
void row_group_scalar(int rows, int64_t width, int64_t k, const float* a, const float* b, int64_t ldb, float* c,
                      int64_t ldc) {
  row_group(rows, width, k, a, b, ldb, c, ldc);
}

// The active level's group, and whether it takes c in place: the AVX-512 kernel loads each row of c once and stores
// it once a strip, and keeps b in registers, so it needs neither the buffer nor the padding of rows_gemm_add.
struct RowGroup {
  void (*run)(int, int64_t, int64_t, const float*, const float*, int64_t, float*, int64_t);
  bool in_place;
};

RowGroup row_group_for_active_isa() {
  return nn::kernels::with_active_isa([]<nn::kernels::Isa isa>() -> RowGroup {
#if defined(__x86_64__)
    if constexpr (isa == nn::kernels::Isa::avx512) return {row_group_avx512, true};
    if constexpr (isa == nn::kernels::Isa::avx2) return {row_group_avx2, false};
#endif
    return {row_group_scalar, false};
  });
}

}  // namespace

void rows_gemm_add(int64_t m, int64_t n, int64_t k, const float* a, const float* b, float* c) {
  const int64_t blocks = (n + kBlock - 1) / kBlock;
  const RowGroup group = row_group_for_active_isa();
  // The output projection (256 × V) and the LSTM's kernels (1 MB each) are split over the threads; the merge layer's
  // 0.25 MB takes about as long to read as a parallel region costs to start and join. Measured with a DecodeCache,
  // greedy 20 words at V = 7,579: 2.2 ms with the LSTM split, 2.8 ms without, OpenMP spinning (the programs'
  // default); with OMP_WAIT_POLICY=PASSIVE each region wakes a sleeping thread, and the split costs 4.2 → 4.7 ms.
  //
  // Where the group does not take c in place (below AVX-512), a last group of 2 or 3 rows runs as 4, from a copy of its
  // rows of a followed by rows of zeros (and zeros in the buffer's spare rows): GCC 12 compiles block<2> and block<3>
  // to load each vector of b once per row (memory operands of the FMAs) where block<4> loads it once, and a 512-column
  // block of h·R took 9.3 µs for 2 rows, 11.4 for 3 and 7.8 for 4 (one thread, Intel Xeon). Each row's arithmetic is
  // the same.
  const int64_t tail = m % kRowGroup;
  thread_local std::vector<float> padded;  // (kRowGroup, k), kept: no allocation per call after the first
  if (tail >= 2 && !group.in_place) {
    padded.assign(static_cast<size_t>(kRowGroup * k), 0.0f);
    std::copy_n(a + (m - tail) * k, tail * k, padded.data());
  }
  const float* padded_rows = padded.data();  // the caller's: the team's threads read it
#pragma omp parallel for schedule(static) if (n * k >= (1 << 18))
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t j0 = blk * kBlock, width = std::min(kBlock, n - j0);
    // Every group of rows reads the same block of b; after the first group it comes from the cache. The group's rows
    // of c go through a buffer whose rows are kBufferRow floats apart: c's own rows are n apart, 4 KB where n is
    // 1,024 (the LSTM's 4U), and there each row's stores alias the next row's loads (the processor takes a load to
    // depend on a store 4 KB before it): h·R for beam 3's rows took 3.0–3.1× one row's time (25.4–28.0 against
    // 8.4–9.0 µs, 2 threads of an Intel Xeon), through the buffer 1.9× (13.2–13.4 against 7.0–7.2). The same
    // arithmetic.
    alignas(64) float buffer[kRowGroup * kBufferRow];
    for (int64_t r0 = 0; r0 < m; r0 += kRowGroup) {
      const int rows = static_cast<int>(std::min<int64_t>(kRowGroup, m - r0));
      float* cr = c + r0 * n + j0;
      if (group.in_place) {
        group.run(rows, width, k, a + r0 * k, b + j0, n, cr, n);
        continue;
      }
      const bool pad = rows >= 2 && rows < kRowGroup;
      for (int r = 0; r < rows; ++r) std::copy_n(cr + r * n, width, buffer + r * kBufferRow);
      if (pad) std::fill_n(buffer + rows * kBufferRow, (kRowGroup - rows) * kBufferRow, 0.0f);
      group.run(pad ? kRowGroup : rows, width, k, pad ? padded_rows : a + r0 * k, b + j0, n, buffer, kBufferRow);
      for (int r = 0; r < rows; ++r) std::copy_n(buffer + r * kBufferRow, width, cr + r * n);
    }
  }
}

}  // namespace captioning
