#include "nn/layers/batch_norm.h"

#include <cstdio>

#include "nn/error.h"

namespace nn {

BatchNorm::BatchNorm(const BatchNormOptions& o) : options_(o) {
  if (o.channels <= 0) fail_expected("BatchNorm", "channels > 0", std::to_string(o.channels));
  gamma_ = register_parameter("gamma", Tensor::ones({o.channels}));
  beta_ = register_parameter("beta", Tensor::zeros({o.channels}));
  moving_mean_ = register_buffer("moving_mean", Tensor::zeros({o.channels}));
  moving_variance_ = register_buffer("moving_variance", Tensor::ones({o.channels}));
}

Tensor BatchNorm::forward(const Tensor& x) {
  return batch_norm(x, gamma_, beta_, moving_mean_, moving_variance_,
                    {.training = is_training(), .momentum = options_.momentum, .epsilon = options_.epsilon});
}

std::string BatchNorm::to_string() const {
  char buffer[96];
  std::snprintf(buffer, sizeof buffer, "BatchNorm(%lld, momentum=%g, epsilon=%g)",
                static_cast<long long>(options_.channels), static_cast<double>(options_.momentum),
                static_cast<double>(options_.epsilon));
  return buffer;
}

}  // namespace nn
