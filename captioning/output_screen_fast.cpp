// OutputScreen's loops over the vocabulary (output_screen_kernels.h). The exact int8 products: AVX512-VNNI's vpdpbusd
// where the processor has it, plain integer loops elsewhere (the same sums: integer arithmetic has no rounding to
// differ in). The row's estimates and candidates: one generic loop compiled for each instruction-set level. A kernel
// file (its name ends in _fast.cpp): its only code beyond baseline x86-64 is the level-specific copies below, which
// scripts/check_isa.sh accepts there and nowhere else.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <nn/backends/cpu/isa.h>

#include "captioning/output_screen_kernels.h"

namespace captioning {

namespace {

constexpr int64_t kQuadBytes = kScreenTile * 4;  // one quad of a tile: 64 columns × 4 rows

// Baseline: acc[r][64t + c] = Σ_g Σ_i u[r][4g + i] · q[t][g][c][i] for one tile.
void tile_plain(int64_t rows, int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc, int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r) {
    int32_t sum[kScreenTile] = {};
    const uint8_t* ur = u + r * 4 * quads;
    for (int64_t g = 0; g < quads; ++g) {
      const int8_t* qg = q + g * kQuadBytes;
      for (int64_t c = 0; c < kScreenTile; ++c)
        for (int i = 0; i < 4; ++i) sum[c] += int32_t{ur[4 * g + i]} * qg[4 * c + i];
    }
    std::memcpy(acc + r * ldc, sum, sizeof(sum));
  }
}

#if defined(__x86_64__)
// One tile for R rows: 4 × 16 int32 sums per row in registers; each quad's 256 bytes of q loaded once, every row's 4
// bytes of u broadcast against them (vpdpbusd: 16 lanes × 4 byte products each).
template <int R>
__attribute__((target("arch=x86-64-v4,avx512vnni"), always_inline)) inline void tile_vnni_rows(
    int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc, int64_t ldc) {
  __m512i sum[R][4];
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) sum[r][v] = _mm512_setzero_si512();
  for (int64_t g = 0; g < quads; ++g) {
    const int8_t* qg = q + g * kQuadBytes;
    const __m512i q0 = _mm512_loadu_si512(qg), q1 = _mm512_loadu_si512(qg + 64), q2 = _mm512_loadu_si512(qg + 128),
                  q3 = _mm512_loadu_si512(qg + 192);
    for (int r = 0; r < R; ++r) {
      int32_t four;
      std::memcpy(&four, u + r * 4 * quads + 4 * g, sizeof(four));
      const __m512i ur = _mm512_set1_epi32(four);
      sum[r][0] = _mm512_dpbusd_epi32(sum[r][0], ur, q0);
      sum[r][1] = _mm512_dpbusd_epi32(sum[r][1], ur, q1);
      sum[r][2] = _mm512_dpbusd_epi32(sum[r][2], ur, q2);
      sum[r][3] = _mm512_dpbusd_epi32(sum[r][3], ur, q3);
    }
  }
  for (int r = 0; r < R; ++r)
    for (int v = 0; v < 4; ++v) _mm512_storeu_si512(acc + r * ldc + 16 * v, sum[r][v]);
}

// A tile for any number of rows, four at a time (the tile's 16 KB of q stays in L1 for the later groups).
__attribute__((target("arch=x86-64-v4,avx512vnni"))) void tile_vnni(int64_t rows, int64_t quads, const uint8_t* u,
                                                                    const int8_t* q, int32_t* acc, int64_t ldc) {
  for (int64_t r0 = 0; r0 < rows; r0 += 4) {
    const uint8_t* ur = u + r0 * 4 * quads;
    int32_t* ar = acc + r0 * ldc;
    switch (std::min<int64_t>(4, rows - r0)) {
      case 1:
        tile_vnni_rows<1>(quads, ur, q, ar, ldc);
        break;
      case 2:
        tile_vnni_rows<2>(quads, ur, q, ar, ldc);
        break;
      case 3:
        tile_vnni_rows<3>(quads, ur, q, ar, ldc);
        break;
      default:
        tile_vnni_rows<4>(quads, ur, q, ar, ldc);
    }
  }
}
#endif

// Step 2 for one row (output_screen.h has the bound): estimates, bounds, the keep-th best lower bound, candidates.
__attribute__((always_inline)) inline void row_candidates(const ScreenRow& row, float* __restrict z,
                                                          float* __restrict bound, uint8_t* __restrict candidate) {
  constexpr float kWiden = 1 + 0x1p-10f, kRelative = 0x1p-22f;
  const float xsc = row.x_scale, xn = row.x_norm, xe = row.x_error;
  const int64_t v = row.vocab;
  for (int64_t j = 0; j < v; ++j) {  // vectorised: no branch
    z[j] = row.bias[j] + xsc * row.scale[j] * static_cast<float>(row.sums[j] - 128 * row.q_sums[j]);
    bound[j] = (xn * row.spread[j] + xe * row.int8_norm[j] + row.offset[j] + kRelative * std::fabs(z[j])) * kWiden;
  }
  // The keep-th largest lower bound: a short sorted list, which few of the V words enter after the first ones — so
  // 16 at a time are first compared with its last entry (a vectorised test), one by one only where one is above it.
  float best[16];
  const int keep = std::min(row.keep, 16);
  std::fill(best, best + keep, -std::numeric_limits<float>::infinity());
  for (int64_t j0 = row.first; j0 < v; j0 += 16) {
    const int64_t n = std::min<int64_t>(16, v - j0);
    const float last = best[keep - 1];
    if (n == 16) {
      int above = 0;
      for (int i = 0; i < 16; ++i) above |= static_cast<int>(z[j0 + i] - bound[j0 + i] > last);
      if (above == 0) continue;
    }
    for (int64_t j = j0; j < j0 + n; ++j) {
      const float lower = z[j] - bound[j];
      if (!(lower > best[keep - 1])) continue;
      int at = keep - 1;
      for (; at > 0 && best[at - 1] < lower; --at) best[at] = best[at - 1];
      best[at] = lower;
    }
  }
  const float threshold = best[keep - 1];
  for (int64_t j = row.first; j < v; ++j) {  // vectorised; a NaN (an infinite weight) is a candidate: f32 decides
    candidate[j] |= static_cast<uint8_t>(!(z[j] + bound[j] < threshold));
  }
}

#if defined(__x86_64__)
__attribute__((target("arch=x86-64-v4"))) void row_candidates_avx512(const ScreenRow& row, float* z, float* bound,
                                                                     uint8_t* candidate) {
  row_candidates(row, z, bound, candidate);
}
__attribute__((target("arch=x86-64-v3"))) void row_candidates_avx2(const ScreenRow& row, float* z, float* bound,
                                                                   uint8_t* candidate) {
  row_candidates(row, z, bound, candidate);
}
#endif
void row_candidates_scalar(const ScreenRow& row, float* z, float* bound, uint8_t* candidate) {
  row_candidates(row, z, bound, candidate);
}

}  // namespace

void screen_row(const ScreenRow& row, float* z, float* bound, uint8_t* candidate) {
  nn::kernels::with_active_isa([&]<nn::kernels::Isa isa>() {
#if defined(__x86_64__)
    if constexpr (isa == nn::kernels::Isa::avx512) return row_candidates_avx512(row, z, bound, candidate);
    if constexpr (isa == nn::kernels::Isa::avx2) return row_candidates_avx2(row, z, bound, candidate);
#endif
    return row_candidates_scalar(row, z, bound, candidate);
  });
}

void screen_products(int64_t m, int64_t tiles, int64_t quads, const uint8_t* u, const int8_t* q, int32_t* acc) {
  auto* tile = &tile_plain;
#if defined(__x86_64__)
  if (nn::kernels::cpu_supports_vnni()) tile = &tile_vnni;
#endif
  const int64_t ldc = tiles * kScreenTile;
  // Split over the threads when q is large (the 1.9 MB of V = 7,579; not a small test vocabulary).
#pragma omp parallel for schedule(static) if (tiles * quads * kQuadBytes >= (1 << 20))
  for (int64_t t = 0; t < tiles; ++t) tile(m, quads, u, q + t * quads * kQuadBytes, acc + t * kScreenTile, ldc);
}

}  // namespace captioning
