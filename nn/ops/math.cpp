// Pointwise math: exp, log, sqrt, rsqrt, abs, pow, clamp, and a scalar divided by a tensor. Each backward is a loop
// over the saved input x and output y (both captured detached): gx = g · f'(x, y).
#include <cmath>
#include <string>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/ops.h"
#include "nn/ops/unary.h"

namespace nn {

namespace {}  // namespace

Tensor exp(const Tensor& x) {
  return detail::unary(
      "exp", x, [](float v) { return std::exp(v); }, [](float, float y) { return y; });
}

Tensor log(const Tensor& x) {
  return detail::unary(
      "log", x, [](float v) { return std::log(v); }, [](float v, float) { return 1.0f / v; });
}

Tensor sqrt(const Tensor& x) {
  return detail::unary(
      "sqrt", x, [](float v) { return std::sqrt(v); }, [](float, float y) { return 0.5f / y; });
}

Tensor rsqrt(const Tensor& x) {
  return detail::unary(
      "rsqrt", x, [](float v) { return 1.0f / std::sqrt(v); }, [](float, float y) { return -0.5f * y * y * y; });
}

Tensor abs(const Tensor& x) {
  return detail::unary(
      "abs", x, [](float v) { return std::fabs(v); },
      [](float v, float) { return v > 0.0f ? 1.0f : (v < 0.0f ? -1.0f : 0.0f); });
}

Tensor pow(const Tensor& x, float exponent) {
  return detail::unary(
      "pow", x, [exponent](float v) { return std::pow(v, exponent); },
      [exponent](float v, float) { return exponent == 0.0f ? 0.0f : exponent * std::pow(v, exponent - 1.0f); });
}

Tensor pow(const Tensor& x, const Tensor& exponent) {
  Shape shape = broadcast_shapes(x.shape(), exponent.shape(), "pow");
  Tensor base, power;
  {
    NoGradGuard no_grad;  // the broadcast copies are scratch, not part of the graph
    base = broadcast_to(x, shape);
    power = broadcast_to(exponent, shape);
  }
  Tensor y = Tensor::empty(shape);
  const float* pb = base.data();
  const float* pe = power.data();
  float* py = y.data();
  for (int64_t i = 0; i < y.numel(); ++i) py[i] = std::pow(pb[i], pe[i]);
  record("pow", {x, exponent}, y, [x, exponent, base, power, y = y.detach()](const Tensor& g) {
    const float* pg = g.data();
    const float* pbv = base.data();
    const float* pev = power.data();
    const float* pyv = y.data();
    Tensor gx, ge;
    if (x.requires_grad()) {  // e · x^(e−1)
      Tensor full = Tensor::empty(g.shape());
      float* p = full.data();
      for (int64_t i = 0; i < full.numel(); ++i) {
        p[i] = pev[i] == 0.0f ? 0.0f : pg[i] * pev[i] * std::pow(pbv[i], pev[i] - 1.0f);
      }
      gx = detail::sum_to(full, x.shape());
    }
    if (exponent.requires_grad()) {  // x^e · log x
      Tensor full = Tensor::empty(g.shape());
      float* p = full.data();
      for (int64_t i = 0; i < full.numel(); ++i) {
        p[i] = (pbv[i] == 0.0f && pev[i] >= 0.0f) ? 0.0f : pg[i] * pyv[i] * std::log(pbv[i]);
      }
      ge = detail::sum_to(full, exponent.shape());
    }
    return std::vector<Tensor>{gx, ge};
  });
  return y;
}

Tensor clamp(const Tensor& x, float low, float high) {
  if (!(low <= high)) {
    fail_expected("clamp", "low ≤ high", "low " + std::to_string(low) + " and high " + std::to_string(high));
  }
  return detail::unary(
      "clamp", x, [low, high](float v) { return v < low ? low : (v > high ? high : v); },  // NaN stays NaN
      [low, high](float v, float) { return (v >= low && v <= high) ? 1.0f : 0.0f; });
}

Tensor div(float s, const Tensor& a) {
  // d(s/x)/dx = −s/x² = −y/x.
  return detail::unary(
      "div_scalar_by", a, [s](float v) { return s / v; }, [](float v, float y) { return -y / v; });
}

}  // namespace nn
