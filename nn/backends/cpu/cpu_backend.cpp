// The cpu backend's table: the fast kernels of this folder behind the primitives of nn/backends/backend.h. The f32
// convolution, GEMM, pooling and LSTM kernels keep their own signatures (benchmarks and tests call them by name);
// the wrappers below adapt them and send bf16 calls to bf16.cpp.
#include "nn/backends/backend.h"
#include "nn/backends/cpu/conv2d.h"
#include "nn/backends/cpu/cpu.h"
#include "nn/backends/cpu/depthwise.h"
#include "nn/backends/cpu/gemm.h"
#include "nn/backends/cpu/isa.h"
#include "nn/backends/cpu/lstm_cell.h"
#include "nn/backends/cpu/pointwise.h"
#include "nn/backends/cpu/pool.h"
#include "nn/core/error.h"

namespace nn {
namespace {

using kernels::Window2D;

[[noreturn]] void unsupported(const char* primitive, DType dtype) {
  throw Error(std::string("cpu backend: ") + primitive + " has no " + dtype_name(dtype) + " kernel");
}

void gemm(const kernels::GemmCall& call) {
  if (call.ab_type == DType::bf16 || call.c_type == DType::bf16) {
    if (call.bias != nullptr) throw Error("cpu backend: gemm takes a bias with f32 operands only");
    cpu::gemm_bf16(call);
    return;
  }
  if (call.ab_type != DType::f32) unsupported("gemm", call.ab_type);
  const auto* a = static_cast<const float*>(call.a);
  const auto* b = static_cast<const float*>(call.b);
  auto* c = static_cast<float*>(call.c);
  for (int64_t i = 0; i < call.batch; ++i) {
    kernels::gemm(call.shape, call.alpha, a + i * call.stride_a, b + i * call.stride_b, call.beta,
                  c + i * call.stride_c, call.bias);
  }
}

int64_t conv2d_workspace(const Window2D& g, DType dtype) {
  return dtype == DType::bf16 ? cpu::conv2d_workspace_bf16(g) : kernels::conv2d_workspace_floats(g);
}

void conv2d_forward(const Window2D& g, DType dtype, const void* x, const void* w, const float* bias, void* y,
                    void* workspace) {
  if (dtype == DType::bf16) {
    cpu::conv2d_forward_bf16(g, x, w, bias, y, workspace);
  } else {
    kernels::conv2d_forward(g, static_cast<const float*>(x), static_cast<const float*>(w), bias, static_cast<float*>(y),
                            static_cast<float*>(workspace));
  }
}

void depthwise_forward(const Window2D& g, DType dtype, const void* x, const void* w, const float* bias, void* y) {
  if (dtype == DType::bf16) {
    cpu::depthwise_forward_bf16(g, x, w, bias, y);
  } else {
    kernels::depthwise_forward(g, static_cast<const float*>(x), static_cast<const float*>(w), bias,
                               static_cast<float*>(y));
  }
}

void pool_forward(kernels::Pool kind, const Window2D& g, DType dtype, const void* x, void* y) {
  if (dtype == DType::bf16) {
    cpu::pool_forward_bf16(kind, g, x, y);
  } else if (kind == kernels::Pool::max) {
    kernels::max_pool_forward(g, static_cast<const float*>(x), static_cast<float*>(y));
  } else {
    kernels::avg_pool_forward(g, static_cast<const float*>(x), static_cast<float*>(y));
  }
}

void pool_backward(kernels::Pool kind, const Window2D& g, const float* x, const float* y, const float* dy, float* dx) {
  if (kind == kernels::Pool::max) {
    kernels::max_pool_backward(g, x, y, dy, dx);
  } else {
    kernels::avg_pool_backward(g, dy, dx);
  }
}

void channel_affine(int64_t rows, int64_t channels, const kernels::ChannelAffine& p, DType dtype, const void* x,
                    void* y) {
  if (dtype == DType::bf16) {
    cpu::channel_affine_bf16(rows, channels, p, x, y);
  } else {
    kernels::channel_affine(rows, channels, p, static_cast<const float*>(x), static_cast<float*>(y));
  }
}

Backend make_cpu_backend() {
  Backend b;
  b.name = "cpu";
  b.device = Device::cpu;
  b.fill = cpu::fill;
  b.copy = cpu::copy;
  b.cast = cpu::cast;
  b.gemm = gemm;
  b.axpy = cpu::axpy;
  b.conv2d_workspace = conv2d_workspace;
  b.conv2d_forward = conv2d_forward;
  b.conv2d_backward_input = kernels::conv2d_backward_input;
  b.conv2d_backward_weight = kernels::conv2d_backward_weight;
  b.bias_backward = kernels::bias_backward;
  b.depthwise_workspace = kernels::depthwise_workspace_floats;
  b.depthwise_forward = depthwise_forward;
  b.depthwise_backward_input = kernels::depthwise_backward_input;
  b.depthwise_backward_weight = kernels::depthwise_backward_weight;
  b.pool_forward = pool_forward;
  b.pool_backward = pool_backward;
  b.lstm_step_forward = kernels::lstm_step_forward;
  b.lstm_step_backward = kernels::lstm_step_backward;
  b.map = cpu::map;
  b.map_backward = cpu::map_backward;
  b.zip = cpu::zip;
  b.select = cpu::select;
  b.reduce = cpu::reduce;
  b.arg_reduce = cpu::arg_reduce;
  b.softmax_rows = cpu::softmax_rows;
  b.softmax_rows_backward = cpu::softmax_rows_backward;
  b.channel_moments = cpu::channel_moments;
  b.channel_affine = channel_affine;
  b.batch_norm_backward = cpu::batch_norm_backward;
  b.gather_rows = cpu::gather_rows;
  b.scatter_add_rows = cpu::scatter_add_rows;
  b.adam_update = cpu::adam_update;
  b.sgd_update = cpu::sgd_update;
  b.rmsprop_update = cpu::rmsprop_update;
  b.adagrad_update = cpu::adagrad_update;
  b.sum_squares = cpu::sum_squares;
  b.all_finite = cpu::all_finite;
  b.cross_entropy_rows = cpu::cross_entropy_rows;
  b.cross_entropy_rows_backward = cpu::cross_entropy_rows_backward;
  b.binary_cross_entropy = cpu::binary_cross_entropy;
  b.binary_cross_entropy_backward = cpu::binary_cross_entropy_backward;
  b.class_loss_rows = cpu::class_loss_rows;
  b.class_loss_rows_backward = cpu::class_loss_rows_backward;
  b.layer_norm_rows = cpu::layer_norm_rows;
  b.layer_norm_rows_backward = cpu::layer_norm_rows_backward;
  return b;
}

}  // namespace

const Backend& cpu_backend() {
  kernels::active_isa();  // a bad NN_ISA is reported here, not inside a kernel's parallel region (isa.cpp)
  static const Backend backend = make_cpu_backend();
  return backend;
}

}  // namespace nn
