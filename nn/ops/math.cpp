// Pointwise math: exp, log, sqrt, rsqrt, abs, pow, clamp, and a scalar divided by a tensor, through the backend's
// map and map_backward (detail::unary): gx = g · f'(x, y) from the saved input x and output y (both detached).
// pow with a tensor exponent composes its backward from forward ops.
#include <string>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/broadcast.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"
#include "nn/ops/unary.h"

namespace nn {

namespace {

// y = f(x) through the backend; bf16 inputs directly where nothing is recorded, else through the conversion path.
Tensor pointwise(const char* op, const Tensor& x, kernels::UnaryCall f) {
  if (detail::any_low_precision({x}) && !detail::direct_bf16({&x})) {
    return pointwise(op, detail::to_f32(x), f).to(detail::result_dtype({x}));
  }
  return detail::unary(op, x, f);
}

}  // namespace

Tensor exp(const Tensor& x) {
  return pointwise("exp", x, {.op = kernels::Unary::exp});
}

Tensor log(const Tensor& x) {
  return pointwise("log", x, {.op = kernels::Unary::log});
}

Tensor sqrt(const Tensor& x) {
  return pointwise("sqrt", x, {.op = kernels::Unary::sqrt});
}

Tensor rsqrt(const Tensor& x) {
  return pointwise("rsqrt", x, {.op = kernels::Unary::rsqrt});
}

Tensor abs(const Tensor& x) {
  return pointwise("abs", x, {.op = kernels::Unary::abs});
}

Tensor pow(const Tensor& x, float exponent) {
  return pointwise("pow", x, {.op = kernels::Unary::pow, .p0 = exponent});
}

Tensor pow(const Tensor& x, const Tensor& exponent) {
  if (detail::any_low_precision({x, exponent})) {
    return pow(detail::to_f32(x), detail::to_f32(exponent)).to(detail::result_dtype({x, exponent}));
  }
  Shape shape = broadcast_shapes(x.shape(), exponent.shape(), "pow");
  Tensor base, power;
  {
    NoGradGuard no_grad;  // the broadcast copies are scratch, not part of the graph
    base = broadcast_to(x, shape);
    power = broadcast_to(exponent, shape);
  }
  Tensor y = detail::binary_forward("pow", kernels::Binary::pow, base, power);
  record("pow", {x, exponent}, y, [x, exponent, base, power, y = y.detach()](const Tensor& g) {
    const Tensor zero = Tensor::scalar(0.0f);
    Tensor grad_x, grad_e;
    if (x.requires_grad()) {  // e · x^(e−1), 0 where e = 0
      Tensor full = where(eq(power, 0.0f), zero, mul(mul(g, power), pow(base, add(power, -1.0f))));
      grad_x = detail::sum_to(full, x.shape());
    }
    if (exponent.requires_grad()) {  // x^e · log x, 0 where x = 0 and e ≥ 0
      Tensor full = where(mul(eq(base, 0.0f), ge(power, 0.0f)), zero, mul(mul(g, y), log(base)));
      grad_e = detail::sum_to(full, exponent.shape());
    }
    return std::vector<Tensor>{grad_x, grad_e};
  });
  return y;
}

Tensor clamp(const Tensor& x, float low, float high) {
  if (!(low <= high)) {
    fail_expected("clamp", "low ≤ high", "low " + std::to_string(low) + " and high " + std::to_string(high));
  }
  return pointwise("clamp", x, {.op = kernels::Unary::clamp, .p0 = low, .p1 = high});  // NaN stays NaN
}

Tensor div(float s, const Tensor& a) {
  // d(s/x)/dx = −s/x² = −y/x.
  return pointwise("div_scalar_by", a, {.op = kernels::Unary::div_scalar_by, .p0 = s});
}

}  // namespace nn
