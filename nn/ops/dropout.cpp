// Inverted dropout: y = x ⊙ m / (1 − rate) with m ~ Bernoulli(1 − rate) drawn from `gen`; gx = g ⊙ m / (1 − rate).
#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

Tensor dropout(const Tensor& x, float rate, bool training, Generator& gen) {
  if (!(rate >= 0.0f && rate < 1.0f)) fail_expected("dropout", "a rate in [0, 1)", std::to_string(rate));
  if (!training || rate == 0.0f) return x;
  if (detail::any_low_precision({x}))
    return dropout(detail::to_f32(x), rate, training, gen).to(detail::result_dtype({x}));
  const float keep_scale = 1.0f / (1.0f - rate);
  const int64_t n = x.numel();
  Tensor scale = Tensor::empty(x.shape());  // m / (1 − rate), kept for the backward
  float* ps = scale.data();
  // The draws, one per element in order (the generator's sequence is the contract, so no backend runs them).
  gen.fill_uniform(ps, n);
  for (int64_t i = 0; i < n; ++i) ps[i] = ps[i] < rate ? 0.0f : keep_scale;
  Tensor y = Tensor::empty(x.shape());
  kernels::Broadcast flat{.rank = 1};  // same shapes: one run of n
  flat.shape[0] = n;
  flat.stride_a[0] = flat.stride_b[0] = 1;
  backend_for(x).zip(kernels::Binary::mul, DType::f32, flat, x.data(), ps, y.data());
  record("dropout", {x}, y, [scale](const Tensor& g) { return std::vector<Tensor>{mul(g, scale)}; });
  return y;
}

}  // namespace nn
