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

// For inference: folds a BatchNorm's moving statistics into the convolution before it, so that the normalisation
// costs nothing: with s = γ / sqrt(σ² + ε), kernel'[…, o] = kernel[…, o]·s_o and bias'_o = (bias_o − μ_o)·s_o + β_o.
// `kernel` is any convolution kernel whose last axis is the output channels — (KH,KW,C,OC) for Conv2D, the
// pointwise (1,1,C,OC) of a SeparableConv2D; `bias` (OC) may be undefined (taken as zeros).
struct FoldedConv {
  Tensor kernel;
  Tensor bias;
};
FoldedConv fold_batch_norm(const Tensor& kernel, const Tensor& bias, const BatchNorm& bn);

}  // namespace nn
