#include "nn/backends/cpu/pool.h"
#include "nn/backends/cpu/pool_span.h"

#include <algorithm>
#include <limits>

namespace nn::kernels {

void max_pool_forward_ref(const Window2D& g, const float* x, float* y) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < g.c; ++c) {
          float best = -std::numeric_limits<float>::infinity();
          Span s = span_of(g, oh, ow);
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw) best = std::max(best, x[((n * g.h + ih) * g.w + iw) * g.c + c]);
          y[((n * g.oh + oh) * g.ow + ow) * g.c + c] = best;
        }
}

void max_pool_backward_ref(const Window2D& g, const float* x, const float* dy, float* dx) {
  std::fill_n(dx, g.input_size(), 0.0f);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < g.c; ++c) {
          int64_t where = -1;
          Span s = span_of(g, oh, ow);
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw) {
              int64_t i = ((n * g.h + ih) * g.w + iw) * g.c + c;
              if (where < 0 || x[i] > x[where]) where = i;
            }
          dx[where] += dy[((n * g.oh + oh) * g.ow + ow) * g.c + c];
        }
}

void avg_pool_forward_ref(const Window2D& g, const float* x, float* y) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < g.c; ++c) {
          Span s = span_of(g, oh, ow);
          double acc = 0;
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw) acc += x[((n * g.h + ih) * g.w + iw) * g.c + c];
          y[((n * g.oh + oh) * g.ow + ow) * g.c + c] = static_cast<float>(acc / s.count());
        }
}

// ---- dispatch to the active instruction-set level (pool_fast.cpp) ----

void max_pool_forward(const Window2D& g, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { max_pool_forward<isa>(g, x, y); });
}

void max_pool_backward(const Window2D& g, const float* x, const float* y, const float* dy, float* dx) {
  with_active_isa([&]<Isa isa> { max_pool_backward<isa>(g, x, y, dy, dx); });
}

void avg_pool_forward(const Window2D& g, const float* x, float* y) {
  with_active_isa([&]<Isa isa> { avg_pool_forward<isa>(g, x, y); });
}

void avg_pool_backward(const Window2D& g, const float* dy, float* dx) {
  with_active_isa([&]<Isa isa> { avg_pool_backward<isa>(g, dy, dx); });
}

}  // namespace nn::kernels
