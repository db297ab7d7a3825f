// STUB (issue 16 scaffolding): replaced by the real primitives.
#include <algorithm>
#include <cstring>
#include <string>
#include "nn/backends/cpu/cpu.h"

#include "nn/core/error.h"

namespace nn::cpu {

void cast(int64_t n, DType from, const void* x, DType to, void* y) {
  if (from == to) {
    if (n > 0) std::memcpy(y, x, static_cast<size_t>(n) * dtype_size(from));
  } else if (from == DType::f32 && to == DType::bf16) {
    const auto* in = static_cast<const float*>(x);
    auto* out = static_cast<bfloat16*>(y);
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = to_bfloat16(in[i]);
  } else if (from == DType::bf16 && to == DType::f32) {
    const auto* in = static_cast<const bfloat16*>(x);
    auto* out = static_cast<float*>(y);
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) out[i] = to_float(in[i]);
  } else {
    throw Error(std::string("cpu backend: cast from ") + dtype_name(from) + " to " + dtype_name(to) +
                " is not supported");
  }
}

void gemm_bf16(const kernels::GemmCall&) {
  throw Error("cpu backend: gemm_bf16 is not written yet");
}

int64_t conv2d_workspace_bf16(const kernels::Window2D&) {
  throw Error("cpu backend: conv2d_workspace_bf16 is not written yet");
}

void conv2d_forward_bf16(const kernels::Window2D&, const void*, const void*, const float*, void*, void*) {
  throw Error("cpu backend: conv2d_forward_bf16 is not written yet");
}

void depthwise_forward_bf16(const kernels::Window2D&, const void*, const void*, const float*, void*) {
  throw Error("cpu backend: depthwise_forward_bf16 is not written yet");
}

void pool_forward_bf16(kernels::Pool, const kernels::Window2D&, const void*, void*) {
  throw Error("cpu backend: pool_forward_bf16 is not written yet");
}

void channel_affine_bf16(int64_t, int64_t, const kernels::ChannelAffine&, const void*, void*) {
  throw Error("cpu backend: channel_affine_bf16 is not written yet");
}

}  // namespace nn::cpu
