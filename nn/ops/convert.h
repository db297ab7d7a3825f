// The conversion path of ops (internal): an op without a kernel for its inputs' dtype computes in f32 and converts
// its result back, so that every op takes bf16 tensors (docs/backends.md, "How dtypes flow"). One line at the top
// of such an op:
//
//     if (detail::any_low_precision({a, b})) {
//       return add(detail::to_f32(a), detail::to_f32(b)).to(detail::result_dtype({a, b}));
//     }
//
// Both conversions are recorded, so gradients flow back converted to each input's dtype. Elementwise ops whose
// backend primitive takes bf16 (map, zip) skip the conversions where no gradient is recorded: see direct_bf16.
#pragma once

#include <initializer_list>

#include "nn/autograd/autograd.h"
#include "nn/core/tensor.h"

namespace nn::detail {

/// Whether some defined input is not f32.
inline bool any_low_precision(std::initializer_list<Tensor> inputs) {
  for (const Tensor& t : inputs) {
    if (t.defined() && t.dtype() != DType::f32) return true;
  }
  return false;
}

/// The dtype of an op's result: bf16 when every defined input is bf16, f32 otherwise (PyTorch's promotion).
inline DType result_dtype(std::initializer_list<Tensor> inputs) {
  bool any = false;
  for (const Tensor& t : inputs) {
    if (!t.defined()) continue;
    if (t.dtype() != DType::bf16) return DType::f32;
    any = true;
  }
  return any ? DType::bf16 : DType::f32;
}

/// Whether an elementwise op may run its bf16 inputs through the backend directly, bf16 in and bf16 out: every
/// input is bf16 and no gradient is recorded (inference). Same numbers as the conversion path (each element widened,
/// computed in f32, rounded once) without its two full-size f32 copies.
inline bool direct_bf16(std::initializer_list<const Tensor*> inputs) {
  for (const Tensor* t : inputs) {
    if (t->dtype() != DType::bf16) return false;
  }
  return !needs_grad(inputs);
}

/// x converted to f32 when it is not (recorded for autograd); an undefined or f32 x as it is.
inline Tensor to_f32(const Tensor& x) {
  return x.defined() && x.dtype() != DType::f32 ? x.to(DType::f32) : x;
}

}  // namespace nn::detail
