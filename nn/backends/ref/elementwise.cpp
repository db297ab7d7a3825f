// STUB (issue 16 scaffolding): replaced by the real primitives.
#include <algorithm>
#include <cstring>
#include <string>
#include "nn/backends/ref/ref.h"

#include "nn/core/error.h"

namespace nn::ref {

void fill(DType dtype, int64_t n, float value, void* y) {
  for (int64_t i = 0; i < n; ++i) {
    if (dtype == DType::bf16) {
      static_cast<bfloat16*>(y)[i] = to_bfloat16(value);
    } else {
      static_cast<float*>(y)[i] = value;
    }
  }
}

void copy(DType dtype, int64_t n, const void* x, void* y) {
  const auto* from = static_cast<const unsigned char*>(x);
  auto* to = static_cast<unsigned char*>(y);
  for (int64_t i = 0; i < n * static_cast<int64_t>(dtype_size(dtype)); ++i) to[i] = from[i];
}

void axpy(int64_t, float, const float*, float*) {
  throw Error("ref backend: axpy is not written yet");
}

void map(const kernels::UnaryCall&, int64_t, const float*, float*) {
  throw Error("ref backend: map is not written yet");
}

void map_backward(const kernels::UnaryCall&, int64_t, const float*, const float*, const float*, float*) {
  throw Error("ref backend: map_backward is not written yet");
}

void zip(kernels::Binary, const kernels::Broadcast&, const float*, const float*, float*) {
  throw Error("ref backend: zip is not written yet");
}

void reduce(kernels::Reduce, int64_t, int64_t, int64_t, const float*, float*) {
  throw Error("ref backend: reduce is not written yet");
}

void softmax_rows(kernels::RowSoftmax, int64_t, int64_t, const float*, float*) {
  throw Error("ref backend: softmax_rows is not written yet");
}

void softmax_rows_backward(kernels::RowSoftmax, int64_t, int64_t, const float*, const float*, float*) {
  throw Error("ref backend: softmax_rows_backward is not written yet");
}

}  // namespace nn::ref
