// The reference backend's table: the frozen naive loops — the *_ref kernels of loops.h and this folder's other
// files — behind the primitives of nn/backends/backend.h. Slow on purpose: one
// element at a time, sums in double, no threads; the op-test harness holds every other backend to it.
#include <algorithm>

#include "nn/backends/backend.h"
#include "nn/backends/ref/loops.h"
#include "nn/backends/ref/ref.h"
#include "nn/core/error.h"

namespace nn {
namespace {

using kernels::Window2D;

void gemm(const kernels::GemmCall& call) {
  if (call.ab_type != DType::f32 || call.c_type != DType::f32) {
    if (call.bias != nullptr) throw Error("ref backend: gemm takes a bias with f32 operands only");
    ref::gemm_bf16(call);
    return;
  }
  const auto* a = static_cast<const float*>(call.a);
  const auto* b = static_cast<const float*>(call.b);
  auto* c = static_cast<float*>(call.c);
  const kernels::GemmShape& s = call.shape;
  const int64_t ldc = s.ldc ? s.ldc : s.n;
  for (int64_t i = 0; i < call.batch; ++i) {
    float* ci = c + i * call.stride_c;
    kernels::gemm_ref(s, call.alpha, a + i * call.stride_a, b + i * call.stride_b, call.beta, ci);
    if (call.bias != nullptr)  // after the product, as the definition reads
      for (int64_t r = 0; r < s.m; ++r)
        for (int64_t j = 0; j < s.n; ++j) ci[r * ldc + j] += call.bias[j];
  }
}

int64_t conv2d_workspace(const Window2D& g, DType dtype) {
  return dtype == DType::bf16 ? ref::conv2d_workspace_bf16(g) : 0;
}

void conv2d_forward(const Window2D& g, DType dtype, const void* x, const void* w, const float* bias, void* y,
                    void* workspace) {
  if (dtype == DType::bf16) {
    ref::conv2d_forward_bf16(g, x, w, bias, y, workspace);
  } else {
    kernels::conv2d_forward_ref(g, static_cast<const float*>(x), static_cast<const float*>(w), bias,
                                static_cast<float*>(y));
  }
}

void conv2d_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float*) {
  kernels::conv2d_backward_input_ref(g, dy, w, dx);
}

void conv2d_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float*) {
  kernels::conv2d_backward_weight_ref(g, x, dy, dw);
}

int64_t depthwise_workspace(const Window2D&) {
  return 0;
}

void depthwise_forward(const Window2D& g, DType dtype, const void* x, const void* w, const float* bias, void* y) {
  if (dtype == DType::bf16) {
    ref::depthwise_forward_bf16(g, x, w, bias, y);
  } else {
    kernels::depthwise_forward_ref(g, static_cast<const float*>(x), static_cast<const float*>(w), bias,
                                   static_cast<float*>(y));
  }
}

void depthwise_backward_input(const Window2D& g, const float* dy, const float* w, float* dx, float*) {
  kernels::depthwise_backward_input_ref(g, dy, w, dx);
}

void depthwise_backward_weight(const Window2D& g, const float* x, const float* dy, float* dw, float*) {
  kernels::depthwise_backward_weight_ref(g, x, dy, dw);
}

void pool_forward(kernels::Pool kind, const Window2D& g, DType dtype, const void* x, void* y) {
  if (dtype == DType::bf16) {
    ref::pool_forward_bf16(kind, g, x, y);
  } else if (kind == kernels::Pool::max) {
    kernels::max_pool_forward_ref(g, static_cast<const float*>(x), static_cast<float*>(y));
  } else {
    kernels::avg_pool_forward_ref(g, static_cast<const float*>(x), static_cast<float*>(y));
  }
}

void pool_backward(kernels::Pool kind, const Window2D& g, const float* x, const float*, const float* dy, float* dx) {
  if (kind == kernels::Pool::max) {
    kernels::max_pool_backward_ref(g, x, dy, dx);
  } else {
    ref::avg_pool_backward(g, dy, dx);
  }
}

void channel_affine(int64_t rows, int64_t channels, const kernels::ChannelAffine& p, DType dtype, const void* x,
                    void* y) {
  if (dtype == DType::bf16) {
    ref::channel_affine_bf16(rows, channels, p, x, y);
  } else {
    kernels::channel_affine_ref(rows, channels, p, static_cast<const float*>(x), static_cast<float*>(y));
  }
}

Backend make_ref_backend() {
  Backend b;
  b.name = "ref";
  b.device = Device::cpu;
  b.fill = ref::fill;
  b.copy = ref::copy;
  b.cast = ref::cast;
  b.gemm = gemm;
  b.axpy = ref::axpy;
  b.conv2d_workspace = conv2d_workspace;
  b.conv2d_forward = conv2d_forward;
  b.conv2d_backward_input = conv2d_backward_input;
  b.conv2d_backward_weight = conv2d_backward_weight;
  b.bias_backward = ref::bias_backward;
  b.depthwise_workspace = depthwise_workspace;
  b.depthwise_forward = depthwise_forward;
  b.depthwise_backward_input = depthwise_backward_input;
  b.depthwise_backward_weight = depthwise_backward_weight;
  b.pool_forward = pool_forward;
  b.pool_backward = pool_backward;
  b.lstm_step_forward = ref::lstm_step_forward;
  b.lstm_step_backward = ref::lstm_step_backward;
  b.map = ref::map;
  b.map_backward = ref::map_backward;
  b.zip = ref::zip;
  b.select = ref::select;
  b.reduce = ref::reduce;
  b.arg_reduce = ref::arg_reduce;
  b.softmax_rows = ref::softmax_rows;
  b.softmax_rows_backward = ref::softmax_rows_backward;
  b.channel_moments = ref::channel_moments;
  b.channel_affine = channel_affine;
  b.batch_norm_backward = ref::batch_norm_backward;
  b.gather_rows = ref::gather_rows;
  b.scatter_add_rows = ref::scatter_add_rows;
  b.adam_update = ref::adam_update;
  b.sgd_update = ref::sgd_update;
  b.rmsprop_update = ref::rmsprop_update;
  b.adagrad_update = ref::adagrad_update;
  b.sum_squares = ref::sum_squares;
  b.all_finite = ref::all_finite;
  b.cross_entropy_rows = ref::cross_entropy_rows;
  b.cross_entropy_rows_backward = ref::cross_entropy_rows_backward;
  b.binary_cross_entropy = ref::binary_cross_entropy;
  b.binary_cross_entropy_backward = ref::binary_cross_entropy_backward;
  b.class_loss_rows = ref::class_loss_rows;
  b.class_loss_rows_backward = ref::class_loss_rows_backward;
  b.layer_norm_rows = ref::layer_norm_rows;
  b.layer_norm_rows_backward = ref::layer_norm_rows_backward;
  return b;
}

}  // namespace

const Backend& ref_backend() {
  static const Backend backend = make_ref_backend();
  return backend;
}

namespace ref {

// dx (N,H,W,C): each output's gradient shared equally among the real (unpadded) pixels of its window.
void avg_pool_backward(const Window2D& g, const float* dy, float* dx) {
  std::fill_n(dx, g.input_size(), 0.0f);
  for (int64_t n = 0; n < g.n; ++n) {
    for (int64_t oy = 0; oy < g.oh; ++oy) {
      for (int64_t ox = 0; ox < g.ow; ++ox) {
        const int64_t y0 = std::max<int64_t>(oy * g.sh - g.pad_top, 0);
        const int64_t y1 = std::min(oy * g.sh - g.pad_top + g.kh, g.h);
        const int64_t x0 = std::max<int64_t>(ox * g.sw - g.pad_left, 0);
        const int64_t x1 = std::min(ox * g.sw - g.pad_left + g.kw, g.w);
        const auto count = static_cast<float>((y1 - y0) * (x1 - x0));
        for (int64_t c = 0; c < g.c; ++c) {
          const float share = dy[((n * g.oh + oy) * g.ow + ox) * g.c + c] / count;
          for (int64_t iy = y0; iy < y1; ++iy) {
            for (int64_t ix = x0; ix < x1; ++ix) dx[((n * g.h + iy) * g.w + ix) * g.c + c] += share;
          }
        }
      }
    }
  }
}

// db (channels) = Σ over rows of dy, in double.
void bias_backward(int64_t rows, int64_t channels, const float* dy, float* db) {
  for (int64_t c = 0; c < channels; ++c) {
    double total = 0;
    for (int64_t r = 0; r < rows; ++r) total += dy[r * channels + c];
    db[c] = static_cast<float>(total);
  }
}

}  // namespace ref
}  // namespace nn
