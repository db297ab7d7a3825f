// The one mechanism for elementwise ops y = f(x) with their backward gx = g · f'(·) (internal: not installed).
// The derivative says what the backward keeps: d(y) keeps only the output (relu, sigmoid, tanh: no need to hold the
// input alive), d(x, y) keeps both (gelu, log, pow…).
#pragma once

#include <type_traits>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/core/tensor.h"

namespace nn::detail {

// Records the backward of y = f(x), y already computed (by a kernel or by unary below).
template <class Derivative>
Tensor record_unary(const char* op, const Tensor& x, Tensor y, Derivative d) {
  constexpr bool output_only = std::is_invocable_v<Derivative, float>;
  const Tensor kept_x = output_only ? Tensor() : x.detach();
  record(op, {x}, y, [x = kept_x, y = y.detach(), d](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape());
    const float* pg = g.data();
    const float* py = y.data();
    float* pgx = gx.data();
    const int64_t count = g.numel();
    if constexpr (output_only) {
#pragma omp parallel for if (count > (1 << 15))
      for (int64_t i = 0; i < count; ++i) pgx[i] = pg[i] * d(py[i]);
    } else {
      const float* px = x.data();
#pragma omp parallel for if (count > (1 << 15))
      for (int64_t i = 0; i < count; ++i) pgx[i] = pg[i] * d(px[i], py[i]);
    }
    return std::vector<Tensor>{gx};
  });
  return y;
}

// y = f(x) elementwise, and its recorded backward (d(y) or d(x, y), as above).
template <class Forward, class Derivative>
Tensor unary(const char* op, const Tensor& x, Forward f, Derivative d) {
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = y.data();
  const int64_t n = x.numel();
#pragma omp parallel for if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  return record_unary(op, x, y, d);
}

}  // namespace nn::detail
