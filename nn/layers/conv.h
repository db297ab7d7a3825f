/// @file
/// Convolution layers, NHWC, with Keras's parameter names, shapes and initialisers (glorot-uniform kernels,
/// zero biases). Each throws nn::Error for a non-positive channel or filter count, and in forward as its op
/// (nn::conv2d, nn::depthwise_conv2d, nn::separable_conv2d) does.
#pragma once

#include <array>

#include "nn/module.h"
#include "nn/ops.h"

namespace nn {

/// Conv2D's configuration, Keras's arguments.
struct Conv2DOptions {
  int64_t in_channels = 0;  ///< C
  int64_t filters = 0;      ///< OC
  std::array<int64_t, 2> kernel_size = {3, 3};
  std::array<int64_t, 2> strides = {1, 1};
  Padding padding = Padding::valid;
  bool use_bias = true;
  Activation activation = Activation::linear;
};

/// activation(conv2d(x, kernel) + bias): x (N,H,W,C) → (N,OH,OW,OC). Parameters "kernel" (KH,KW,C,filters) and
/// "bias" (filters).
class Conv2D : public Layer {
 public:
  explicit Conv2D(const Conv2DOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  /// "Conv2D(3->32, kernel=3x3, strides=2x2, padding=valid)".
  std::string to_string() const override;
  const Conv2DOptions& options() const { return options_; }
  Tensor kernel() const { return kernel_; }
  Tensor bias() const { return bias_; }

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<Conv2D>(options_, scratch_generator());
  }
  Conv2DOptions options_;
  Tensor kernel_, bias_;
};

/// DepthwiseConv2D's configuration (depth multiplier 1).
struct DepthwiseConv2DOptions {
  int64_t channels = 0;  ///< C
  std::array<int64_t, 2> kernel_size = {3, 3};
  std::array<int64_t, 2> strides = {1, 1};
  Padding padding = Padding::valid;
  bool use_bias = true;
};

/// Each channel convolved with its own kernel: x (N,H,W,C) → (N,OH,OW,C). Parameters "depthwise_kernel" (KH,KW,C,1)
/// and "bias" (C).
class DepthwiseConv2D : public Layer {
 public:
  explicit DepthwiseConv2D(const DepthwiseConv2DOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  /// "DepthwiseConv2D(32, kernel=3x3, strides=1x1, padding=same)".
  std::string to_string() const override;
  Tensor depthwise_kernel() const { return kernel_; }
  Tensor bias() const { return bias_; }

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<DepthwiseConv2D>(options_, scratch_generator());
  }
  DepthwiseConv2DOptions options_;
  Tensor kernel_, bias_;
};

/// SeparableConv2D's configuration.
struct SeparableConv2DOptions {
  int64_t in_channels = 0;  ///< C
  int64_t filters = 0;      ///< OC
  std::array<int64_t, 2> kernel_size = {3, 3};
  std::array<int64_t, 2> strides = {1, 1};
  Padding padding = Padding::valid;
  bool use_bias = true;
};

/// Depthwise then pointwise: x (N,H,W,C) → (N,OH,OW,OC). Parameters "depthwise_kernel" (KH,KW,C,1),
/// "pointwise_kernel" (1,1,C,filters), "bias" (filters).
class SeparableConv2D : public Layer {
 public:
  explicit SeparableConv2D(const SeparableConv2DOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  /// "SeparableConv2D(32->64, kernel=3x3, strides=1x1, padding=same)".
  std::string to_string() const override;
  Tensor depthwise_kernel() const { return depthwise_; }
  Tensor pointwise_kernel() const { return pointwise_; }
  Tensor bias() const { return bias_; }

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<SeparableConv2D>(options_, scratch_generator());
  }
  SeparableConv2DOptions options_;
  Tensor depthwise_, pointwise_, bias_;
};

}  // namespace nn
