#include "nn/layers/batch_norm.h"

#include <cmath>
#include <cstdio>
#include <vector>

#include "nn/core/error.h"

namespace nn {

BatchNorm::BatchNorm(const BatchNormOptions& o) : options_(o) {
  if (o.channels <= 0) fail_expected("BatchNorm", "channels > 0", std::to_string(o.channels));
  gamma_ = register_parameter("gamma", Tensor::ones({o.channels}));
  beta_ = register_parameter("beta", Tensor::zeros({o.channels}));
  moving_mean_ = register_buffer("moving_mean", Tensor::zeros({o.channels}));
  moving_variance_ = register_buffer("moving_variance", Tensor::ones({o.channels}));
  for (const char* name : {"gamma", "beta", "moving_mean", "moving_variance"}) keep_f32(name);  // f32 under to()
}

Tensor BatchNorm::forward(const Tensor& x) {
  return batch_norm(
      x, gamma_, beta_, moving_mean_, moving_variance_,
      {.training = is_training(), .momentum = options_.momentum, .epsilon = options_.epsilon, .sync = sync_});
}

std::string BatchNorm::to_string() const {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "BatchNorm(%lld, momentum=%g, epsilon=%g)",
                static_cast<long long>(options_.channels), static_cast<double>(options_.momentum),
                static_cast<double>(options_.epsilon));
  return buffer;
}

FoldedConv fold_batch_norm(const Tensor& kernel, const Tensor& bias, const BatchNorm& bn) {
  const int64_t oc = bn.options().channels;
  if (kernel.rank() < 1 || kernel.dim(-1) != oc) {
    fail_expected("fold_batch_norm",
                  "a kernel with " + std::to_string(oc) + " output channels (" + bn.to_string() + ")",
                  "kernel " + nn::to_string(kernel.shape()));
  }
  if (bias.defined() && bias.shape() != Shape{oc}) {
    fail_expected("fold_batch_norm", "a bias of shape [" + std::to_string(oc) + "]", nn::to_string(bias.shape()));
  }
  FoldedConv folded{Tensor::empty(kernel.shape()), Tensor::empty({oc})};
  std::vector<float> scale(oc);
  for (int64_t o = 0; o < oc; ++o) {
    scale[o] = bn.gamma().data()[o] / std::sqrt(bn.moving_variance().data()[o] + bn.options().epsilon);
    float b = bias.defined() ? bias.data()[o] : 0.0f;
    folded.bias.data()[o] = (b - bn.moving_mean().data()[o]) * scale[o] + bn.beta().data()[o];
  }
  const float* k = kernel.data();
  float* out = folded.kernel.data();
  for (int64_t i = 0; i < kernel.numel(); ++i) out[i] = k[i] * scale[i % oc];
  return folded;
}

}  // namespace nn
