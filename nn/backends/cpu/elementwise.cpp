// STUB (issue 16 scaffolding): replaced by the real primitives.
#include <algorithm>
#include <cstring>
#include <string>
#include "nn/backends/cpu/cpu.h"

#include "nn/core/error.h"

namespace nn::cpu {

void fill(DType dtype, int64_t n, float value, void* y) {
  if (dtype == DType::bf16) {
    std::fill_n(static_cast<bfloat16*>(y), n, to_bfloat16(value));
  } else {
    std::fill_n(static_cast<float*>(y), n, value);
  }
}

void copy(DType dtype, int64_t n, const void* x, void* y) {
  if (n > 0) std::memcpy(y, x, static_cast<size_t>(n) * dtype_size(dtype));
}

void axpy(int64_t, float, const float*, float*) {
  throw Error("cpu backend: axpy is not written yet");
}

void map(const kernels::UnaryCall&, int64_t, const float*, float*) {
  throw Error("cpu backend: map is not written yet");
}

void map_backward(const kernels::UnaryCall&, int64_t, const float*, const float*, const float*, float*) {
  throw Error("cpu backend: map_backward is not written yet");
}

void zip(kernels::Binary, const kernels::Broadcast&, const float*, const float*, float*) {
  throw Error("cpu backend: zip is not written yet");
}

void reduce(kernels::Reduce, int64_t, int64_t, int64_t, const float*, float*) {
  throw Error("cpu backend: reduce is not written yet");
}

void softmax_rows(kernels::RowSoftmax, int64_t, int64_t, const float*, float*) {
  throw Error("cpu backend: softmax_rows is not written yet");
}

void softmax_rows_backward(kernels::RowSoftmax, int64_t, int64_t, const float*, const float*, float*) {
  throw Error("cpu backend: softmax_rows_backward is not written yet");
}

}  // namespace nn::cpu
