// STUB (issue 16 scaffolding): replaced by the real primitives.
#include <algorithm>
#include <cstring>
#include <string>
#include "nn/backends/ref/ref.h"

#include "nn/core/error.h"

namespace nn::ref {

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

void gemm_bf16(const kernels::GemmCall&) {
  throw Error("ref backend: gemm_bf16 is not written yet");
}

int64_t conv2d_workspace_bf16(const kernels::Window2D&) {
  throw Error("ref backend: conv2d_workspace_bf16 is not written yet");
}

void conv2d_forward_bf16(const kernels::Window2D&, const void*, const void*, const float*, void*, void*) {
  throw Error("ref backend: conv2d_forward_bf16 is not written yet");
}

void depthwise_forward_bf16(const kernels::Window2D&, const void*, const void*, const float*, void*) {
  throw Error("ref backend: depthwise_forward_bf16 is not written yet");
}

void pool_forward_bf16(kernels::Pool, const kernels::Window2D&, const void*, void*) {
  throw Error("ref backend: pool_forward_bf16 is not written yet");
}

void channel_affine_bf16(int64_t, int64_t, const kernels::ChannelAffine&, const void*, void*) {
  throw Error("ref backend: channel_affine_bf16 is not written yet");
}

}  // namespace nn::ref
