// Pointwise activations. Each backward is written from the saved output y (captured detached): relu' = [y > 0],
// sigmoid' = y(1-y), hard_sigmoid' = 0.2 inside the linear part, tanh' = 1 - y².
#include <cmath>

#include "nn/autograd.h"
#include "nn/kernels/pointwise.h"
#include "nn/ops.h"

namespace nn {

namespace {

// Records the backward of y = f(x) elementwise: gx = g · dfdy(y).
template <class Derivative>
Tensor record_pointwise(const char* op, const Tensor& x, Tensor y, Derivative dfdy) {
  record(op, {x}, y, [y = y.detach(), dfdy](const Tensor& g) {
    Tensor gx = Tensor::empty(g.shape());
    const float* pg = g.data();
    const float* pyv = y.data();
    float* pgx = gx.data();
    int64_t count = g.numel();
#pragma omp parallel for if (count > (1 << 15))
    for (int64_t i = 0; i < count; ++i) pgx[i] = pg[i] * dfdy(pyv[i]);
    return std::vector<Tensor>{gx};
  });
  return y;
}

// y = f(x) elementwise, and its recorded backward.
template <class Forward, class Derivative>
Tensor pointwise(const char* op, const Tensor& x, Forward f, Derivative dfdy) {
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = y.data();
  int64_t n = x.numel();
#pragma omp parallel for if (n > (1 << 15))
  for (int64_t i = 0; i < n; ++i) py[i] = f(px[i]);
  return record_pointwise(op, x, y, dfdy);
}

}  // namespace

Tensor relu(const Tensor& x) {
  Tensor y = Tensor::empty(x.shape());
  kernels::relu_forward(x.numel(), x.data(), y.data());
  return record_pointwise("relu", x, y, [](float v) { return v > 0.0f ? 1.0f : 0.0f; });
}

Tensor sigmoid(const Tensor& x) {
  return pointwise(
      "sigmoid", x, [](float v) { return 1.0f / (1.0f + std::exp(-v)); }, [](float y) { return y * (1.0f - y); });
}

Tensor hard_sigmoid(const Tensor& x) {
  return pointwise(
      "hard_sigmoid", x, [](float v) { return std::fmin(1.0f, std::fmax(0.0f, 0.2f * v + 0.5f)); },
      [](float y) { return (y > 0.0f && y < 1.0f) ? 0.2f : 0.0f; });
}

Tensor tanh(const Tensor& x) {
  return pointwise(
      "tanh", x, [](float v) { return std::tanh(v); }, [](float y) { return 1.0f - y * y; });
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
  }
  return "?";
}

}  // namespace nn
