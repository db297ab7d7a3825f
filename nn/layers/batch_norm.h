#pragma once

#include "nn/module.h"
#include "nn/ops.h"

namespace nn {

struct BatchNormOptions {
  int64_t channels = 0;
  float momentum = 0.99f;
  float epsilon = 1e-3f;
};

// Keras's BatchNormalization over the last axis: parameters "gamma" (ones) and "beta" (zeros), buffers
// "moving_mean" (zeros) and "moving_variance" (ones). train(): batch statistics, moving ones updated;
// eval(): the moving statistics.
class BatchNorm : public Layer {
 public:
  explicit BatchNorm(const BatchNormOptions& options);
  Tensor forward(const Tensor& x) override;
  std::string to_string() const override;

  Tensor gamma() const { return gamma_; }
  Tensor beta() const { return beta_; }
  Tensor moving_mean() const { return moving_mean_; }
  Tensor moving_variance() const { return moving_variance_; }
  const BatchNormOptions& options() const { return options_; }

 private:
  BatchNormOptions options_;
  Tensor gamma_, beta_, moving_mean_, moving_variance_;
};

}  // namespace nn
