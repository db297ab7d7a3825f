#include "nn/backends/cpu/depthwise.h"

#include <omp.h>
#include <algorithm>

#include <cstring>

namespace nn::kernels {

void depthwise_forward_ref(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < g.c; ++c) {
          double acc = bias ? bias[c] : 0.0;
          for (int64_t kh = 0; kh < g.kh; ++kh)
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              acc += static_cast<double>(x[((n * g.h + ih) * g.w + iw) * g.c + c]) * w[(kh * g.kw + kw) * g.c + c];
            }
          y[((n * g.oh + oh) * g.ow + ow) * g.c + c] = static_cast<float>(acc);
        }
}

void depthwise_backward_input_ref(const Window2D& g, const float* dy, const float* w, float* dx) {
  std::fill_n(dx, g.input_size(), 0.0f);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t kh = 0; kh < g.kh; ++kh)
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
            for (int64_t c = 0; c < g.c; ++c)
              dx[((n * g.h + ih) * g.w + iw) * g.c + c] +=
                  dy[((n * g.oh + oh) * g.ow + ow) * g.c + c] * w[(kh * g.kw + kw) * g.c + c];
          }
}

void depthwise_backward_weight_ref(const Window2D& g, const float* x, const float* dy, float* dw) {
  for (int64_t kh = 0; kh < g.kh; ++kh)
    for (int64_t kw = 0; kw < g.kw; ++kw)
      for (int64_t c = 0; c < g.c; ++c) {
        double acc = 0;
        for (int64_t n = 0; n < g.n; ++n)
          for (int64_t oh = 0; oh < g.oh; ++oh)
            for (int64_t ow = 0; ow < g.ow; ++ow) {
              int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              acc += static_cast<double>(x[((n * g.h + ih) * g.w + iw) * g.c + c]) *
                     dy[((n * g.oh + oh) * g.ow + ow) * g.c + c];
            }
        dw[(kh * g.kw + kw) * g.c + c] = static_cast<float>(acc);
      }
}

int64_t depthwise_workspace_floats(const Window2D& g) {
  // The flipped filter for the input gradient, or one partial dw per thread for the weight gradient.
  return g.kh * g.kw * g.c * std::max(1, omp_get_max_threads());
}

// ---- dispatch to the active instruction-set level (depthwise_fast.cpp) ----

void depthwise_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  with_active_isa([&]<Isa isa> { depthwise_forward<isa>(g, x, w, bias, y); });
}

void depthwise_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace) {
  with_active_isa([&]<Isa isa> { depthwise_backward_input<isa>(g, dy, w, dx, workspace); });
}

void depthwise_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace) {
  with_active_isa([&]<Isa isa> { depthwise_backward_weight<isa>(g, x, dy, dw, workspace); });
}

}  // namespace nn::kernels
