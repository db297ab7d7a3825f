/// @file
/// BatchNorm, Keras's BatchNormalization, and folding it into the convolution before it for inference.
#pragma once

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// BatchNorm's configuration: `BatchNorm({.channels = 32})`.
struct BatchNormOptions {
  int64_t channels = 0;    ///< C, the extent of the input's last axis (> 0)
  float momentum = 0.99f;  ///< moving ← momentum·moving + (1 − momentum)·batch, as Keras
  float epsilon = 1e-3f;   ///< added to the variance (Keras's default; PyTorch's is 1e-5)
};

/// Keras's BatchNormalization over the last axis: parameters "gamma" (ones) and "beta" (zeros), buffers
/// "moving_mean" (zeros) and "moving_variance" (ones). train(): batch statistics, moving ones updated;
/// eval(): the moving statistics.
class BatchNorm : public Layer {
 public:
  /// Throws nn::Error unless channels > 0.
  explicit BatchNorm(const BatchNormOptions& options);
  /// x (..., C) → the same shape. In training mode also updates the moving statistics in place.
  Tensor forward(const Tensor& x) override;
  /// "BatchNorm(32, momentum=0.99, epsilon=0.001)".
  std::string to_string() const override;

  Tensor gamma() const { return gamma_; }                       ///< (C), the scale
  Tensor beta() const { return beta_; }                         ///< (C), the offset
  Tensor moving_mean() const { return moving_mean_; }           ///< (C)
  Tensor moving_variance() const { return moving_variance_; }   ///< (C)
  const BatchNormOptions& options() const { return options_; }  ///< as constructed
  /// Training statistics over every process of a data-parallel job (BatchNormConfig::sync; `sync` must outlive the
  /// forward and backward passes that use it), or null (the default): this process's batch alone. nn::Trainer sets
  /// it for the length of fit with TrainerOptions::sync_batch_norm. A clone does not inherit it.
  void synchronise(BatchNormSync* sync) { sync_ = sync; }

 private:
  std::shared_ptr<Module> clone_module() const override { return std::make_shared<BatchNorm>(options_); }
  BatchNormOptions options_;
  Tensor gamma_, beta_, moving_mean_, moving_variance_;
  BatchNormSync* sync_ = nullptr;
};

/// For inference: folds a BatchNorm's moving statistics into the convolution before it, so that the normalisation
/// costs nothing: with s = γ / sqrt(σ² + ε), kernel'[…, o] = kernel[…, o]·s_o and bias'_o = (bias_o − μ_o)·s_o + β_o.
/// `kernel` is any convolution kernel whose last axis is the output channels — (KH,KW,C,OC) for Conv2D, the
/// pointwise (1,1,C,OC) of a SeparableConv2D; `bias` (OC) may be undefined (taken as zeros).
struct FoldedConv {
  Tensor kernel;  ///< the kernel's shape, each output channel scaled
  Tensor bias;    ///< (OC)
};
/// Throws nn::Error when the kernel's last extent or the bias's shape is not the BatchNorm's channel count.
FoldedConv fold_batch_norm(const Tensor& kernel, const Tensor& bias, const BatchNorm& bn);

}  // namespace nn
