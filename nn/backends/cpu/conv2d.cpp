#include "nn/backends/cpu/conv2d.h"

#include <algorithm>
#include <cstring>

namespace nn::kernels {

int64_t im2col_chunk_rows(const Window2D& g) {
  int64_t width = g.kh * g.kw * g.c;
  int64_t rows = g.n * g.oh * g.ow;
  int64_t wanted =
      std::clamp<int64_t>((int64_t{4} << 20) / std::max<int64_t>(width, 1), std::min<int64_t>(rows, 256), rows);
  return std::max<int64_t>(1, wanted / std::max<int64_t>(g.ow, 1)) * g.ow;
}

void conv2d_forward_ref(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t o = 0; o < g.oc; ++o) {
          double acc = bias ? bias[o] : 0.0;
          for (int64_t kh = 0; kh < g.kh; ++kh)
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              for (int64_t c = 0; c < g.c; ++c) {
                acc += static_cast<double>(x[((n * g.h + ih) * g.w + iw) * g.c + c]) *
                       w[((kh * g.kw + kw) * g.c + c) * g.oc + o];
              }
            }
          y[((n * g.oh + oh) * g.ow + ow) * g.oc + o] = static_cast<float>(acc);
        }
}

void conv2d_backward_input_ref(const Window2D& g, const float* dy, const float* w, float* dx) {
  std::fill_n(dx, g.input_size(), 0.0f);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t kh = 0; kh < g.kh; ++kh)
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
            if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
            for (int64_t c = 0; c < g.c; ++c)
              for (int64_t o = 0; o < g.oc; ++o)
                dx[((n * g.h + ih) * g.w + iw) * g.c + c] +=
                    dy[((n * g.oh + oh) * g.ow + ow) * g.oc + o] * w[((kh * g.kw + kw) * g.c + c) * g.oc + o];
          }
}

void conv2d_backward_weight_ref(const Window2D& g, const float* x, const float* dy, float* dw) {
  for (int64_t kh = 0; kh < g.kh; ++kh)
    for (int64_t kw = 0; kw < g.kw; ++kw)
      for (int64_t c = 0; c < g.c; ++c)
        for (int64_t o = 0; o < g.oc; ++o) {
          double acc = 0;
          for (int64_t n = 0; n < g.n; ++n)
            for (int64_t oh = 0; oh < g.oh; ++oh)
              for (int64_t ow = 0; ow < g.ow; ++ow) {
                int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
                if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
                acc += static_cast<double>(x[((n * g.h + ih) * g.w + iw) * g.c + c]) *
                       dy[((n * g.oh + oh) * g.ow + ow) * g.oc + o];
              }
          dw[((kh * g.kw + kw) * g.c + c) * g.oc + o] = static_cast<float>(acc);
        }
}

// ---- dispatch to the active instruction-set level (conv2d_fast.cpp) ----

int64_t conv2d_workspace_floats(const Window2D& g) {
  return with_active_isa([&]<Isa isa> { return conv2d_workspace_floats<isa>(g); });
}

void conv2d_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y, float* workspace) {
  with_active_isa([&]<Isa isa> { conv2d_forward<isa>(g, x, w, bias, y, workspace); });
}

void conv2d_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float* workspace) {
  with_active_isa([&]<Isa isa> { conv2d_backward_input<isa>(g, dy, w, dx, workspace); });
}

void conv2d_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float* workspace) {
  with_active_isa([&]<Isa isa> { conv2d_backward_weight<isa>(g, x, dy, dw, workspace); });
}

void bias_backward(int64_t rows, int64_t channels, const float* dy, float* db) {
  with_active_isa([&]<Isa isa> { bias_backward<isa>(rows, channels, dy, db); });
}

}  // namespace nn::kernels
