// The reference backend's bfloat16 primitives (ref.h): the naive loops of the f32 reference kernels with each element
// converted to float as it is read, sums in double, and the output rounded to bf16 once.
#include <algorithm>
#include <cstring>
#include <limits>
#include <string>

#include "nn/backends/ref/ref.h"
#include "nn/core/error.h"

namespace nn::ref {

using kernels::Window2D;

namespace {

// Element i of a float or bf16 array.
float read(DType type, const void* p, int64_t i) {
  return type == DType::bf16 ? to_float(static_cast<const bfloat16*>(p)[i]) : static_cast<const float*>(p)[i];
}

void write(DType type, void* p, int64_t i, float value) {
  if (type == DType::bf16) {
    static_cast<bfloat16*>(p)[i] = to_bfloat16(value);
  } else {
    static_cast<float*>(p)[i] = value;
  }
}

float x_at(const Window2D& g, const bfloat16* x, int64_t n, int64_t ih, int64_t iw, int64_t c) {
  return to_float(x[((n * g.h + ih) * g.w + iw) * g.c + c]);
}

}  // namespace

void cast(int64_t n, DType from, const void* x, DType to, void* y) {
  for (int64_t i = 0; i < n; ++i) {
    float value;
    if (from == DType::f32) {
      value = static_cast<const float*>(x)[i];
    } else if (from == DType::bf16) {
      value = to_float(static_cast<const bfloat16*>(x)[i]);
    } else {
      throw Error(std::string("ref backend: cast from ") + dtype_name(from) + " is not supported");
    }
    if (to == DType::f32) {
      static_cast<float*>(y)[i] = value;
    } else if (to == DType::bf16) {
      static_cast<bfloat16*>(y)[i] = to_bfloat16(value);
    } else {
      throw Error(std::string("ref backend: cast to ") + dtype_name(to) + " is not supported");
    }
  }
}

// gemm_ref's loop (nn/backends/cpu/gemm.cpp) on A, B of ab_type and C of c_type, each element widened as read.
void gemm_bf16(const kernels::GemmCall& call) {
  for (DType t : {call.ab_type, call.c_type}) {
    if (t != DType::f32 && t != DType::bf16) {
      throw Error(std::string("ref backend: gemm has no ") + dtype_name(t) + " kernel");
    }
  }
  const kernels::GemmShape& s = call.shape;
  const int64_t lda = s.lda ? s.lda : (s.transpose_a ? s.m : s.k);
  const int64_t ldb = s.ldb ? s.ldb : (s.transpose_b ? s.k : s.n);
  const int64_t ldc = s.ldc ? s.ldc : s.n;
  for (int64_t batch = 0; batch < call.batch; ++batch) {
    const int64_t a0 = batch * call.stride_a, b0 = batch * call.stride_b, c0 = batch * call.stride_c;
    for (int64_t i = 0; i < s.m; ++i)
      for (int64_t j = 0; j < s.n; ++j) {
        double acc = 0;
        for (int64_t p = 0; p < s.k; ++p) {
          const float av = read(call.ab_type, call.a, a0 + (s.transpose_a ? p * lda + i : i * lda + p));
          const float bv = read(call.ab_type, call.b, b0 + (s.transpose_b ? j * ldb + p : p * ldb + j));
          acc += static_cast<double>(av) * bv;
        }
        const int64_t at = c0 + i * ldc + j;
        const double old = call.beta == 0.0f ? 0.0 : call.beta * static_cast<double>(read(call.c_type, call.c, at));
        write(call.c_type, call.c, at, static_cast<float>(call.alpha * acc + old));
      }
  }
}

int64_t conv2d_workspace_bf16(const Window2D&) {
  return 0;
}

// conv2d_forward_ref's loop.
void conv2d_forward_bf16(const Window2D& g, const void* x, const void* w, const float* bias, void* y, void*) {
  const auto* xb = static_cast<const bfloat16*>(x);
  const auto* wb = static_cast<const bfloat16*>(w);
  auto* yb = static_cast<bfloat16*>(y);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t o = 0; o < g.oc; ++o) {
          double acc = bias ? bias[o] : 0.0;
          for (int64_t kh = 0; kh < g.kh; ++kh)
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              const int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              for (int64_t c = 0; c < g.c; ++c) {
                acc += static_cast<double>(x_at(g, xb, n, ih, iw, c)) *
                       to_float(wb[((kh * g.kw + kw) * g.c + c) * g.oc + o]);
              }
            }
          yb[((n * g.oh + oh) * g.ow + ow) * g.oc + o] = to_bfloat16(static_cast<float>(acc));
        }
}

// depthwise_forward_ref's loop.
void depthwise_forward_bf16(const Window2D& g, const void* x, const void* w, const float* bias, void* y) {
  const auto* xb = static_cast<const bfloat16*>(x);
  const auto* wb = static_cast<const bfloat16*>(w);
  auto* yb = static_cast<bfloat16*>(y);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < g.c; ++c) {
          double acc = bias ? bias[c] : 0.0;
          for (int64_t kh = 0; kh < g.kh; ++kh)
            for (int64_t kw = 0; kw < g.kw; ++kw) {
              const int64_t ih = oh * g.sh - g.pad_top + kh, iw = ow * g.sw - g.pad_left + kw;
              if (ih < 0 || ih >= g.h || iw < 0 || iw >= g.w) continue;
              acc += static_cast<double>(x_at(g, xb, n, ih, iw, c)) * to_float(wb[(kh * g.kw + kw) * g.c + c]);
            }
          yb[((n * g.oh + oh) * g.ow + ow) * g.c + c] = to_bfloat16(static_cast<float>(acc));
        }
}

// max_pool_forward_ref's and avg_pool_forward_ref's loops: the window's part inside the image.
void pool_forward_bf16(kernels::Pool kind, const Window2D& g, const void* x, void* y) {
  const auto* xb = static_cast<const bfloat16*>(x);
  auto* yb = static_cast<bfloat16*>(y);
  for (int64_t n = 0; n < g.n; ++n)
    for (int64_t oh = 0; oh < g.oh; ++oh)
      for (int64_t ow = 0; ow < g.ow; ++ow)
        for (int64_t c = 0; c < g.c; ++c) {
          const int64_t top = oh * g.sh - g.pad_top, left = ow * g.sw - g.pad_left;
          const int64_t h0 = std::max<int64_t>(top, 0), h1 = std::min(top + g.kh, g.h);
          const int64_t w0 = std::max<int64_t>(left, 0), w1 = std::min(left + g.kw, g.w);
          float best = -std::numeric_limits<float>::infinity();
          double sum = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) {
              const float v = x_at(g, xb, n, ih, iw, c);
              best = std::max(best, v);
              sum += v;
            }
          const float out = kind == kernels::Pool::max ? best : static_cast<float>(sum / ((h1 - h0) * (w1 - w0)));
          yb[((n * g.oh + oh) * g.ow + ow) * g.c + c] = to_bfloat16(out);
        }
}

// channel_affine_ref's loop.
void channel_affine_bf16(int64_t rows, int64_t channels, const kernels::ChannelAffine& p, const void* x, void* y) {
  const auto* xb = static_cast<const bfloat16*>(x);
  auto* yb = static_cast<bfloat16*>(y);
  for (int64_t i = 0; i < rows; ++i)
    for (int64_t j = 0; j < channels; ++j) {
      const float v = to_float(xb[i * channels + j]);
      yb[i * channels + j] = to_bfloat16(p.gamma[j] * (v - p.mean[j]) * p.inv_std[j] + p.beta[j]);
    }
}

}  // namespace nn::ref
