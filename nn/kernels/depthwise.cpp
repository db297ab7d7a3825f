#include "nn/kernels/depthwise.h"

#include <algorithm>
#include <cstring>

namespace nn::kernels {

// ---- reference ----

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

// ---- fast ----

void depthwise_forward(const Window2D& g, const float* x, const float* w, const float* bias, float* y) {
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh) {
      // Window rows that fall inside the image.
      const int64_t kh0 = std::max<int64_t>(0, g.pad_top - oh * g.sh);
      const int64_t kh1 = std::min<int64_t>(g.kh, g.h + g.pad_top - oh * g.sh);
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        float* out = y + ((n * g.oh + oh) * g.ow + ow) * C;
        if (bias) {
          std::memcpy(out, bias, sizeof(float) * C);
        } else {
          std::fill_n(out, C, 0.0f);
        }
        const int64_t kw0 = std::max<int64_t>(0, g.pad_left - ow * g.sw);
        const int64_t kw1 = std::min<int64_t>(g.kw, g.w + g.pad_left - ow * g.sw);
        for (int64_t kh = kh0; kh < kh1; ++kh) {
          const int64_t ih = oh * g.sh - g.pad_top + kh;
          for (int64_t kw = kw0; kw < kw1; ++kw) {
            const int64_t iw = ow * g.sw - g.pad_left + kw;
            const float* __restrict in = x + ((n * g.h + ih) * g.w + iw) * C;
            const float* __restrict wk = w + (kh * g.kw + kw) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) out[c] += in[c] * wk[c];
          }
        }
      }
    }
}

void depthwise_backward_input(const Window2D& g, const float* dy, const float* w, float* dx) {
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t ih = 0; ih < g.h; ++ih)
      for (int64_t iw = 0; iw < g.w; ++iw) {
        float* __restrict out = dx + ((n * g.h + ih) * g.w + iw) * C;
        std::fill_n(out, C, 0.0f);
        // Output (oh, ow) reads this pixel through tap (kh, kw) when oh·sh − pad_top + kh = ih.
        for (int64_t kh = 0; kh < g.kh; ++kh) {
          int64_t t = ih + g.pad_top - kh;
          if (t < 0 || t % g.sh != 0 || t / g.sh >= g.oh) continue;
          int64_t oh = t / g.sh;
          for (int64_t kw = 0; kw < g.kw; ++kw) {
            int64_t u = iw + g.pad_left - kw;
            if (u < 0 || u % g.sw != 0 || u / g.sw >= g.ow) continue;
            int64_t ow = u / g.sw;
            const float* __restrict grad = dy + ((n * g.oh + oh) * g.ow + ow) * C;
            const float* __restrict wk = w + (kh * g.kw + kw) * C;
#pragma omp simd
            for (int64_t c = 0; c < C; ++c) out[c] += grad[c] * wk[c];
          }
        }
      }
}

void depthwise_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw) {
  const int64_t C = g.c;
  constexpr int64_t kBlock = 64;  // channels per task
  const int64_t blocks = (C + kBlock - 1) / kBlock;
#pragma omp parallel for schedule(static)
  for (int64_t b = 0; b < blocks; ++b) {
    const int64_t c0 = b * kBlock, c1 = std::min(C, c0 + kBlock), width = c1 - c0;
    for (int64_t tap = 0; tap < g.kh * g.kw; ++tap) std::fill_n(dw + tap * C + c0, width, 0.0f);
    for (int64_t n = 0; n < g.n; ++n)
      for (int64_t oh = 0; oh < g.oh; ++oh)
        for (int64_t ow = 0; ow < g.ow; ++ow) {
          const float* __restrict grad = dy + ((n * g.oh + oh) * g.ow + ow) * C + c0;
          for (int64_t kh = 0; kh < g.kh; ++kh) {
            int64_t ih = oh * g.sh - g.pad_top + kh;
            if (ih < 0 || ih >= g.h) continue;
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              int64_t iw = ow * g.sw - g.pad_left + kw;
              if (iw < 0 || iw >= g.w) continue;
              const float* __restrict in = x + ((n * g.h + ih) * g.w + iw) * C + c0;
              float* __restrict acc = dw + (kh * g.kw + kw) * C + c0;
#pragma omp simd
              for (int64_t c = 0; c < width; ++c) acc[c] += in[c] * grad[c];
            }
          }
        }
  }
}

}  // namespace nn::kernels
