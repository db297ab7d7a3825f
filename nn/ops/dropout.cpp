// Inverted dropout: y = x ⊙ m / (1 − rate) with m ~ Bernoulli(1 − rate) drawn from `gen`; gx = g ⊙ m / (1 − rate).
#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

Tensor dropout(const Tensor& x, float rate, bool training, Generator& gen) {
  if (!(rate >= 0.0f && rate < 1.0f)) fail_expected("dropout", "a rate in [0, 1)", std::to_string(rate));
  if (!training || rate == 0.0f) return x;
  float keep_scale = 1.0f / (1.0f - rate);
  Tensor scale = Tensor::empty(x.shape());  // m / (1 − rate), kept for the backward
  float* ps = scale.data();
  for (int64_t i = 0; i < x.numel(); ++i) ps[i] = gen.uniform() < rate ? 0.0f : keep_scale;
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  float* py = y.data();
  for (int64_t i = 0; i < x.numel(); ++i) py[i] = px[i] * ps[i];
  record("dropout", {x}, y, [scale](const Tensor& g) { return std::vector<Tensor>{mul(g, scale)}; });
  return y;
}

}  // namespace nn
