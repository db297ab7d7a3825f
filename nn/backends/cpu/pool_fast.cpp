// The fast pooling kernels (pool.h), compiled once per instruction-set level (isa.h): kCompiledIsa is this copy's.
#include <algorithm>
#include <limits>

#include "nn/backends/cpu/pool.h"
#include "nn/backends/cpu/pool_span.h"
#include "nn/backends/cpu/simd.h"

namespace nn::kernels {

namespace {

constexpr int64_t kLanes = 16;

}  // namespace

template <>
void max_pool_forward<kCompiledIsa>(const Window2D& g, const float* x, float* y) {
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        const Span s = span_of(g, oh, ow);
        float* out = y + ((n * g.oh + oh) * g.ow + ow) * C;
        const float* first = x + ((n * g.h + s.h0) * g.w + s.w0) * C;
        int64_t c0 = 0;
        for (; c0 + kLanes <= C; c0 += kLanes) {
          v16 best = load16(first + c0);
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw)
              best = max16(best, load16(x + ((n * g.h + ih) * g.w + iw) * C + c0));
          store16(out + c0, best);
        }
        for (int64_t c = c0; c < C; ++c) {
          float best = first[c];
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw) best = std::max(best, x[((n * g.h + ih) * g.w + iw) * C + c]);
          out[c] = best;
        }
      }
}

template <>
void max_pool_backward<kCompiledIsa>(const Window2D& g, const float* x, const float* y, const float* dy, float* dx) {
  std::fill_n(dx, g.input_size(), 0.0f);
  const int64_t C = g.c;
  // Rows oh and oh + phases read disjoint input rows, since phases·SH ≥ KH.
  const int64_t phases = (g.kh + g.sh - 1) / g.sh;
  for (int64_t phase = 0; phase < phases; ++phase) {
    const int64_t rows = (g.oh - phase + phases - 1) / phases;
#pragma omp parallel for collapse(2) schedule(static)
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t k = 0; k < rows; ++k) {
        const int64_t oh = phase + k * phases;
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const Span s = span_of(g, oh, ow);
          const int64_t o = ((n * g.oh + oh) * g.ow + ow) * C;
          int64_t c0 = 0;
          for (; c0 + kLanes <= C; c0 += kLanes) {
            const v16 best = load16(y + o + c0), grad = load16(dy + o + c0);
            v16i found = {};
            for (int64_t ih = s.h0; ih < s.h1; ++ih)
              for (int64_t iw = s.w0; iw < s.w1; ++iw) {
                const int64_t i = ((n * g.h + ih) * g.w + iw) * C + c0;
                const v16i hit = (load16(x + i) == best) & ~found;
                store16(dx + i, load16(dx + i) + where(hit, grad, v16{}));
                found |= hit;
              }
          }
          for (int64_t c = c0; c < C; ++c) {
            bool done = false;
            for (int64_t ih = s.h0; ih < s.h1 && !done; ++ih)
              for (int64_t iw = s.w0; iw < s.w1 && !done; ++iw) {
                const int64_t i = ((n * g.h + ih) * g.w + iw) * C + c;
                if (x[i] == y[o + c]) {
                  dx[i] += dy[o + c];
                  done = true;
                }
              }
          }
        }
      }
  }
}

template <>
void avg_pool_forward<kCompiledIsa>(const Window2D& g, const float* x, float* y) {
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        Span s = span_of(g, oh, ow);
        float* out = y + ((n * g.oh + oh) * g.ow + ow) * C;
        std::fill_n(out, C, 0.0f);
        for (int64_t ih = s.h0; ih < s.h1; ++ih)
          for (int64_t iw = s.w0; iw < s.w1; ++iw) {
            const float* in = x + ((n * g.h + ih) * g.w + iw) * C;
            for (int64_t c = 0; c < C; ++c) out[c] += in[c];
          }
        const float inv = 1.0f / static_cast<float>(s.count());
        for (int64_t c = 0; c < C; ++c) out[c] *= inv;
      }
}

template <>
void avg_pool_backward<kCompiledIsa>(const Window2D& g, const float* dy, float* dx) {
  std::fill_n(dx, g.input_size(), 0.0f);
  const int64_t C = g.c;
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        Span s = span_of(g, oh, ow);
        const float inv = 1.0f / static_cast<float>(s.count());
        const float* grad = dy + ((n * g.oh + oh) * g.ow + ow) * C;
        for (int64_t ih = s.h0; ih < s.h1; ++ih)
          for (int64_t iw = s.w0; iw < s.w1; ++iw) {
            float* out = dx + ((n * g.h + ih) * g.w + iw) * C;
            for (int64_t c = 0; c < C; ++c) out[c] += grad[c] * inv;
          }
      }
}

}  // namespace nn::kernels
