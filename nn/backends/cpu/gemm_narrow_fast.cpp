// The narrow GEMM (gemm.h's gemm_narrow), compiled once per instruction-set level (isa.h): kCompiledIsa is this
// copy's.
#include <omp.h>

#include <algorithm>

#include "nn/backends/cpu/gemm.h"
#include "nn/backends/cpu/simd.h"

namespace nn::kernels {

namespace {

// Rows [i0, i0 + R) of C: each row's N ≤ 16·V columns in V vectors, summed over the K depths in registers (depth p:
// A's element broadcast against the block's row p), then C = alpha·sum + beta·C on the N columns that exist. R rows
// at a time so that the chains of fused multiply-adds interleave (a single row waits on each one's latency).
template <int V, int R>
NN_SIMD void narrow_rows(const GemmShape& s, int64_t i0, float alpha, const float* a, long lda, const float* block,
                         float beta, float* c, long ldc) {
  v16 acc[R][V];
  for (auto& row : acc)
    for (auto& part : row) part = v16{};
  for (int p = 0; p < s.k; ++p) {
    v16 b[V];
    for (int v = 0; v < V; ++v) b[v] = load16(block + (p * V + v) * 16);
    for (int r = 0; r < R; ++r) {
      const v16 ar = splat16(a[(i0 + r) * lda + p]);
      for (int v = 0; v < V; ++v) acc[r][v] += ar * b[v];
    }
  }
  for (int r = 0; r < R; ++r) {
    float* row = c + (i0 + r) * ldc;
    for (int v = 0; v < V; ++v) {
      const int64_t count = std::min<int64_t>(16, s.n - 16 * v);
      v16 out = acc[r][v] * alpha;
      if (beta != 0.0f) out += load16_partial(row + 16 * v, count, 0.0f) * beta;
      if (count == 16) {
        store16(row + 16 * v, out);
      } else {
        store16_partial(row + 16 * v, out, count);
      }
    }
  }
}

template <int V>
void narrow(const GemmShape& s, float alpha, const float* a, const float* block, float beta, float* c) {
  // Accumulators: R·V vectors of 16, at most 12 AVX2 registers (two a vector) with room for B's row and a broadcast.
  constexpr int R = V == 1 ? 4 : V == 2 ? 2 : 1;
  const long lda = s.lda ? s.lda : s.k, ldc = s.ldc ? s.ldc : s.n;
  const int64_t groups = s.m / R;
#pragma omp parallel for schedule(static) if (static_cast<int64_t>(s.m) * s.k * s.n > (1 << 18))
  for (int64_t g = 0; g < groups; ++g) narrow_rows<V, R>(s, g * R, alpha, a, lda, block, beta, c, ldc);
  for (int64_t i = groups * R; i < s.m; ++i) narrow_rows<V, 1>(s, i, alpha, a, lda, block, beta, c, ldc);
}

}  // namespace

template <>
void gemm_narrow<kCompiledIsa>(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
  // op(B) (K, N) into a block of K rows of V·16 floats, zeros past N: read from L1 by every row of C.
  const int v = (s.n + 15) / 16;
  alignas(64) float block[kNarrowMaxK * kNarrowMaxN];
  const long ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n);
  for (int p = 0; p < s.k; ++p)
    for (int j = 0; j < 16 * v; ++j)
      block[p * 16 * v + j] = j >= s.n ? 0.0f : s.transpose_b ? b[j * ldb + p] : b[p * ldb + j];
  switch (v) {
    case 1:
      return narrow<1>(s, alpha, a, block, beta, c);
    case 2:
      return narrow<2>(s, alpha, a, block, beta, c);
    case 3:
      return narrow<3>(s, alpha, a, block, beta, c);
    default:
      return narrow<4>(s, alpha, a, block, beta, c);
  }
}

}  // namespace nn::kernels
