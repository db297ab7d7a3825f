// Pointwise activations (through detail::unary, nn/ops/unary.h). The first four write their backward from the saved
// output y: relu' = [y > 0], sigmoid' = y(1-y), hard_sigmoid' = 0.2 inside the linear part, tanh' = 1 - y².
// leaky_relu, elu, gelu and silu write theirs from the saved input x.
#include <cmath>

#include "nn/autograd/autograd.h"
#include "nn/backends/cpu/pointwise.h"
#include "nn/ops/ops.h"
#include "nn/ops/unary.h"

namespace nn {

namespace {

float logistic(float v) {
  return 1.0f / (1.0f + std::exp(-v));
}

}  // namespace

Tensor relu(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape());
  kernels::relu_forward(x.numel(), x.data(), y.data());
  return detail::record_unary("relu", x, y, [](float v) { return v > 0.0f ? 1.0f : 0.0f; });
}

Tensor sigmoid(const Tensor& x) {
  return detail::unary(
      "sigmoid", x, [](float v) { return 1.0f / (1.0f + std::exp(-v)); }, [](float y) { return y * (1.0f - y); });
}

Tensor hard_sigmoid(const Tensor& x) {
  return detail::unary(
      "hard_sigmoid", x, [](float v) { return std::fmin(1.0f, std::fmax(0.0f, 0.2f * v + 0.5f)); },
      [](float y) { return (y > 0.0f && y < 1.0f) ? 0.2f : 0.0f; });
}

Tensor tanh(const Tensor& x) {
  return detail::unary(
      "tanh", x, [](float v) { return std::tanh(v); }, [](float y) { return 1.0f - y * y; });
}

Tensor leaky_relu(const Tensor& x, float negative_slope) {
  return detail::unary(
      "leaky_relu", x, [negative_slope](float v) { return v > 0.0f ? v : negative_slope * v; },
      [negative_slope](float v, float) { return v > 0.0f ? 1.0f : negative_slope; });
}

Tensor elu(const Tensor& x, float alpha) {
  return detail::unary(
      "elu", x, [alpha](float v) { return v > 0.0f ? v : alpha * std::expm1(v); },
      [alpha](float v, float) { return v > 0.0f ? 1.0f : alpha * std::exp(v); });
}

Tensor gelu(const Tensor& x) {
  // Φ(x) = (1 + erf(x/√2))/2; gelu' = Φ(x) + x·φ(x) with φ the standard normal density.
  constexpr float inv_sqrt2 = 0.70710678118654752f, inv_sqrt_2pi = 0.39894228040143268f;
  return detail::unary(
      "gelu", x, [](float v) { return 0.5f * v * (1.0f + std::erf(v * inv_sqrt2)); },
      [](float v, float) {
        return 0.5f * (1.0f + std::erf(v * inv_sqrt2)) + v * inv_sqrt_2pi * std::exp(-0.5f * v * v);
      });
}

Tensor silu(const Tensor& x) {
  // silu' = s·(1 + x·(1 − s)) with s = sigmoid(x).
  return detail::unary(
      "silu", x, [](float v) { return v * logistic(v); },
      [](float v, float) {
        float s = logistic(v);
        return s * (1.0f + v * (1.0f - s));
      });
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
