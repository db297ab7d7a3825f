#include "nn/kernels/pool.h"

#include <algorithm>
#include <limits>

namespace nn::kernels {

namespace {

// The window rows/columns of output (oh, ow) that lie inside the image: [h0, h1) × [w0, w1) in input coordinates.
struct Span {
  int64_t h0, h1, w0, w1;
  int64_t count() const { return (h1 - h0) * (w1 - w0); }
};
Span span_of(const Window2D& g, int64_t oh, int64_t ow) {
  int64_t top = oh * g.sh - g.pad_top, left = ow * g.sw - g.pad_left;
  return {std::max<int64_t>(top, 0), std::min(top + g.kh, g.h), std::max<int64_t>(left, 0),
          std::min(left + g.kw, g.w)};
}

}  // namespace

void max_pool_forward_ref(const Window2D& g, const float* x, float* y, int64_t* argmax) {
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < g.c; ++c) {
          float best = -std::numeric_limits<float>::infinity();
          int64_t where = -1;
          Span s = span_of(g, oh, ow);
          for (int64_t ih = s.h0; ih < s.h1; ++ih)
            for (int64_t iw = s.w0; iw < s.w1; ++iw) {
              int64_t i = ((n * g.h + ih) * g.w + iw) * g.c + c;
              if (where < 0 || x[i] > best) {
                best = x[i];
                where = i;
              }
            }
          int64_t o = ((n * g.oh + oh) * g.ow + ow) * g.c + c;
          y[o] = best;
          argmax[o] = where;
        }
}

void max_pool_forward(const Window2D& g, const float* x, float* y, int64_t* argmax) {
  const int64_t C = g.c;
#pragma omp parallel for collapse(2) schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow) {
        Span s = span_of(g, oh, ow);
        const int64_t o = ((n * g.oh + oh) * g.ow + ow) * C;
        const int64_t first = ((n * g.h + s.h0) * g.w + s.w0) * C;
        for (int64_t c = 0; c < C; ++c) {
          y[o + c] = x[first + c];
          argmax[o + c] = first + c;
        }
        for (int64_t ih = s.h0; ih < s.h1; ++ih)
          for (int64_t iw = s.w0; iw < s.w1; ++iw) {
            const int64_t base = ((n * g.h + ih) * g.w + iw) * C;
            for (int64_t c = 0; c < C; ++c) {
              // Strictly greater: the first maximum in scan order wins, as in the reference.
              if (x[base + c] > y[o + c]) {
                y[o + c] = x[base + c];
                argmax[o + c] = base + c;
              }
            }
          }
      }
}

void max_pool_backward(const Window2D& g, const float* dy, const int64_t* argmax, float* dx) {
  std::fill_n(dx, g.input_size(), 0.0f);
  const int64_t per_image = g.oh * g.ow * g.c;
  // Windows overlap within an image, never across images: one image per thread.
#pragma omp parallel for schedule(static)
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t i = n * per_image; i < (n + 1) * per_image; ++i) dx[argmax[i]] += dy[i];
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

void avg_pool_forward(const Window2D& g, const float* x, float* y) {
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

void avg_pool_backward(const Window2D& g, const float* dy, float* dx) {
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
