// Elementwise arithmetic with NumPy broadcasting. The gradient of a broadcast input is the output gradient summed
// back to the input's shape (sum_to), so every backward here is composed from forward ops.
#include <cstring>

#include "nn/autograd/autograd.h"
#include "nn/backends/cpu/pointwise.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/ops.h"

namespace nn {

namespace detail {

Tensor sum_to(const Tensor& g, const Shape& shape) {
  if (g.shape() == shape) return g;
  Tensor out = Tensor::zeros(shape);
  std::vector<int64_t> target = broadcast_strides(shape, g.shape());
  std::vector<int64_t> source = broadcast_strides(g.shape(), g.shape());
  const float* src = g.data();
  float* dst = out.data();
  for_each_broadcast(g.shape(), target, source, [&](int64_t, int64_t t, int64_t s) { dst[t] += src[s]; });
  return out;
}

}  // namespace detail

namespace {

template <class F>
Tensor unary_forward(const Tensor& a, F f) {
  Tensor out = Tensor::empty(a.shape());
  const float* pa = a.data();
  float* po = out.data();
  int64_t n = out.numel();
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) po[i] = f(pa[i]);
  return out;
}

Tensor grad_if(const Tensor& input, const Tensor& g) {
  return input.requires_grad() ? detail::sum_to(g, input.shape()) : Tensor();
}

}  // namespace

Tensor add(const Tensor& a, const Tensor& b) {
  Tensor out;
  if (a.shape() == b.shape()) {  // a residual connection: the vectorised kernel
    out = Tensor::empty(a.shape());
    kernels::add_forward(out.numel(), a.data(), b.data(), out.data());
  } else {
    out = detail::binary_forward("add", a, b, [](float x, float y) { return x + y; });
  }
  record("add", {a, b}, out, [a, b](const Tensor& g) { return std::vector<Tensor>{grad_if(a, g), grad_if(b, g)}; });
  return out;
}

Tensor sub(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("sub", a, b, [](float x, float y) { return x - y; });
  record("sub", {a, b}, out, [a, b](const Tensor& g) {
    return std::vector<Tensor>{grad_if(a, g), b.requires_grad() ? grad_if(b, neg(g)) : Tensor()};
  });
  return out;
}

Tensor mul(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("mul", a, b, [](float x, float y) { return x * y; });
  record("mul", {a, b}, out, [a, b](const Tensor& g) {
    return std::vector<Tensor>{a.requires_grad() ? grad_if(a, mul(g, b)) : Tensor(),
                               b.requires_grad() ? grad_if(b, mul(g, a)) : Tensor()};
  });
  return out;
}

Tensor div(const Tensor& a, const Tensor& b) {
  Tensor out = detail::binary_forward("div", a, b, [](float x, float y) { return x / y; });
  record("div", {a, b}, out, [a, b, out = out.detach()](const Tensor& g) {
    // d(a/b)/da = 1/b; d(a/b)/db = -(a/b)/b.
    Tensor g_over_b = div(g, b);
    return std::vector<Tensor>{grad_if(a, g_over_b),
                               b.requires_grad() ? grad_if(b, neg(mul(g_over_b, out))) : Tensor()};
  });
  return out;
}

Tensor add(const Tensor& a, float s) {
  Tensor out = unary_forward(a, [s](float x) { return x + s; });
  record("add_scalar", {a}, out, [](const Tensor& g) { return std::vector<Tensor>{g}; });
  return out;
}

Tensor mul(const Tensor& a, float s) {
  Tensor out = unary_forward(a, [s](float x) { return x * s; });
  record("mul_scalar", {a}, out, [s](const Tensor& g) { return std::vector<Tensor>{mul(g, s)}; });
  return out;
}

Tensor neg(const Tensor& a) {
  return mul(a, -1.0f);
}

Tensor broadcast_to(const Tensor& a, const Shape& shape) {
  if (broadcast_shapes(a.shape(), shape, "broadcast_to") != shape) {
    fail_expected("broadcast_to", "a shape that " + to_string(a.shape()) + " broadcasts to", to_string(shape));
  }
  Tensor out = Tensor::empty(shape);
  const float* pa = a.data();
  float* po = out.data();
  detail::for_each_broadcast(shape, broadcast_strides(a.shape(), shape), broadcast_strides(shape, shape),
                             [&](int64_t i, int64_t ia, int64_t) { po[i] = pa[ia]; });
  record("broadcast_to", {a}, out, [a](const Tensor& g) { return std::vector<Tensor>{detail::sum_to(g, a.shape())}; });
  return out;
}

}  // namespace nn
