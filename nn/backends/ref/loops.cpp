// The frozen naive loops (loops.h), moved here unchanged from beside their fast twins in nn/backends/cpu/.
#include "nn/backends/ref/loops.h"

#include <algorithm>
#include <limits>

#include "nn/backends/cpu/pool_span.h"

namespace nn::kernels {

void gemm_ref(const GemmShape& s, float alpha, const float* a, const float* b, float beta, float* c) {
  const int64_t lda = s.lda ? s.lda : (s.transpose_a ? s.m : s.k), ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n);
  const int64_t ldc = s.ldc ? s.ldc : s.n;
  for (int i = 0; i < s.m; ++i) {
    for (int j = 0; j < s.n; ++j) {
      double acc = 0;
      for (int p = 0; p < s.k; ++p) {
        float av = s.transpose_a ? a[p * lda + i] : a[i * lda + p];
        float bv = s.transpose_b ? b[j * ldb + p] : b[p * ldb + j];
        acc += static_cast<double>(av) * bv;
      }
      float& out = c[i * ldc + j];
      out = static_cast<float>(alpha * acc + (beta == 0.0f ? 0.0 : beta * static_cast<double>(out)));
    }
  }
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
              float v = x[((n * g.h + ih) * g.w + iw) * g.c + c];
              if (g.relu_input) v = v > 0.0f ? v : 0.0f;
              acc += static_cast<double>(v) * w[(kh * g.kw + kw) * g.c + c];
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

void relu_forward_ref(int64_t n, const float* x, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

void relu_backward_ref(int64_t n, const float* y, const float* g, float* gx) {
  for (int64_t i = 0; i < n; ++i) gx[i] = g[i] * (y[i] > 0.0f ? 1.0f : 0.0f);
}

void add_forward_ref(int64_t n, const float* a, const float* b, float* y) {
  for (int64_t i = 0; i < n; ++i) y[i] = a[i] + b[i];
}

void channel_affine_ref(int64_t rows, int64_t c, const ChannelAffine& p, const float* x, float* y) {
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < c; ++j) y[i * c + j] = p.gamma[j] * (x[i * c + j] - p.mean[j]) * p.inv_std[j] + p.beta[j];
}

}  // namespace nn::kernels
