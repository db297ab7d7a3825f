// The one mechanism for elementwise ops y = f(x) with their backward gx = g · f'(·) (internal: not installed): the
// backend's map and map_backward (nn/backends/backend.h) for a function of the Unary enum. The backward keeps what
// the derivative reads: only the output for relu, sigmoid, tanh, exp… (no need to hold the input alive), the input
// as well for gelu, log, pow….
#pragma once

#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/tensor.h"

namespace nn::detail {

// Records the backward of y = f(x), y already computed.
inline Tensor record_unary(const char* op, const Tensor& x, Tensor y, kernels::UnaryCall f) {
  const Tensor kept_x = kernels::derivative_reads_x(f.op) ? x.detach() : Tensor();
  record(op, {x}, y, [x = kept_x, y = y.detach(), f](const Tensor& g) {
    Tensor gx = reusable_gradient(g);  // elementwise: gx may overwrite g
    backend_for(g).map_backward(f, g.numel(), x.defined() ? x.data() : nullptr, y.data(), g.data(), gx.data());
    return std::vector<Tensor>{gx};
  });
  return y;
}

// y = f(x) elementwise, and its recorded backward: x f32, or bf16 where nothing is recorded (convert.h, direct_bf16).
inline Tensor unary(const char* op, const Tensor& x, kernels::UnaryCall f) {
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  backend_for(x).map(f, x.dtype(), x.numel(), x.raw_data(), y.raw_data());
  return record_unary(op, x, y, f);
}

}  // namespace nn::detail
