// Pointwise activations: the backend's map and map_backward (through detail::unary, nn/ops/unary.h). The first four
// write their backward from the saved output y: relu' = [y > 0], sigmoid' = y(1-y), hard_sigmoid' = 0.2 inside the
// linear part, tanh' = 1 - y². leaky_relu, elu, gelu and silu write theirs from the saved input x.
#include "nn/autograd/autograd.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"
#include "nn/ops/unary.h"

namespace nn {

namespace {

// y = f(x) through the backend, bf16 inputs through the conversion path.
Tensor activation(const char* op, const Tensor& x, kernels::UnaryCall f) {
  if (detail::any_low_precision({x}) && !detail::direct_bf16({&x})) {
    return activation(op, detail::to_f32(x), f).to(detail::result_dtype({x}));
  }
  return detail::unary(op, x, f);
}

}  // namespace

Tensor relu(const Tensor& x) {
  return activation("relu", x, {.op = kernels::Unary::relu});
}

Tensor sigmoid(const Tensor& x) {
  return activation("sigmoid", x, {.op = kernels::Unary::sigmoid});
}

Tensor hard_sigmoid(const Tensor& x) {
  return activation("hard_sigmoid", x, {.op = kernels::Unary::hard_sigmoid});
}

Tensor tanh(const Tensor& x) {
  return activation("tanh", x, {.op = kernels::Unary::tanh});
}

Tensor leaky_relu(const Tensor& x, float negative_slope) {
  return activation("leaky_relu", x, {.op = kernels::Unary::leaky_relu, .p0 = negative_slope});
}

Tensor elu(const Tensor& x, float alpha) {
  return activation("elu", x, {.op = kernels::Unary::elu, .p0 = alpha});
}

Tensor gelu(const Tensor& x) {
  return activation("gelu", x, {.op = kernels::Unary::gelu});
}

Tensor silu(const Tensor& x) {
  return activation("silu", x, {.op = kernels::Unary::silu});
}

Tensor activate(const Tensor& x, Activation activation) {
  switch (activation) {
    case Activation::linear:
      return x;
    case Activation::relu:
      return relu(x);
    case Activation::sigmoid:
      return sigmoid(x);
    case Activation::hard_sigmoid:
      return hard_sigmoid(x);
    case Activation::tanh:
      return tanh(x);
    case Activation::softmax:
      return softmax(x);
    case Activation::leaky_relu:
      return leaky_relu(x);
    case Activation::elu:
      return elu(x);
    case Activation::gelu:
      return gelu(x);
    case Activation::silu:
      return silu(x);
  }
  return x;
}

const char* to_string(Activation activation) {
  switch (activation) {
    case Activation::linear:
      return "linear";
    case Activation::relu:
      return "relu";
    case Activation::sigmoid:
      return "sigmoid";
    case Activation::hard_sigmoid:
      return "hard_sigmoid";
    case Activation::tanh:
      return "tanh";
    case Activation::softmax:
      return "softmax";
    case Activation::leaky_relu:
      return "leaky_relu";
    case Activation::elu:
      return "elu";
    case Activation::gelu:
      return "gelu";
    case Activation::silu:
      return "silu";
  }
  return "?";
}

}  // namespace nn
