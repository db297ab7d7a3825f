// Tensor's members that run on a backend or use autograd — reshape, clone, to, copy_from, fill, set_requires_grad. They
// are defined here, above nn/core, so that nothing in nn/core includes a layer above it (scripts/check_layers.sh).
#include <string>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/core/tensor.h"

namespace nn {

Tensor Tensor::reshape(const Shape& requested) const {
  const Shape& from = shape();
  Shape to = requested;
  int64_t known = 1;
  int inferred = -1;
  for (size_t i = 0; i < to.size(); ++i) {
    if (to[i] == -1 && inferred < 0) {
      inferred = static_cast<int>(i);
    } else {
      if (to[i] < 0) fail_expected("reshape", "extents ≥ 0 and at most one -1", nn::to_string(requested));
      known *= to[i];
    }
  }
  if (inferred >= 0 && known != 0) to[inferred] = numel() / known;
  if (nn::numel(to) != numel()) {
    fail_expected("reshape", "a shape of " + std::to_string(numel()) + " elements (from " + nn::to_string(from) + ")",
                  nn::to_string(requested));
  }
  Tensor out = detail::view(*this, to, 0);
  record("reshape", {*this}, out, [from](const Tensor& g) { return std::vector<Tensor>{g.reshape(from)}; });
  return out;
}

Tensor Tensor::clone() const {
  Tensor out = empty(shape(), dtype(), device());
  backend_for(*this).copy(dtype(), numel(), raw_data(), out.raw_data());
  record("clone", {*this}, out, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor Tensor::to(DType type) const {
  if (dtype() == type) return *this;
  if (!dtype_is_computed(type)) {
    fail_expected("Tensor::to", "f32 or bf16", std::string(dtype_name(type)) + " (reserved, not computed yet)");
  }
  Tensor out = empty(shape(), type, device());
  backend_for(*this).cast(numel(), dtype(), raw_data(), type, out.raw_data());
  const DType from = dtype();
  record("to", {*this}, out, [from](const Tensor& g) { return std::vector<Tensor>{g.to(from)}; });
  return out;
}

void Tensor::copy_from(const Tensor& source) {
  if (source.shape() != shape()) {
    fail_expected("Tensor::copy_from", "shape " + nn::to_string(shape()), nn::to_string(source.shape()));
  }
  if (source.dtype() != dtype()) {
    fail_expected("Tensor::copy_from", std::string("a ") + dtype_name(dtype()) + " source", dtype_name(source.dtype()));
  }
  if (source.raw_data() != raw_data()) backend_for(*this).copy(dtype(), numel(), source.raw_data(), raw_data());
}

void Tensor::fill(float value) {
  backend_for(*this).fill(dtype(), numel(), value, raw_data());
}

Tensor& Tensor::set_requires_grad(bool on) {
  if (checked().grad_fn) {
    throw Error("set_requires_grad: only leaf tensors can be marked; this one was produced by '" +
                std::string(impl_->grad_fn->op) + "' (use detach() first)");
  }
  impl_->requires_grad = on;
  return *this;
}

}  // namespace nn
