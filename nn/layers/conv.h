/// @file
/// Convolution layers, NHWC, with Keras's parameter names, shapes and initialisers (glorot-uniform kernels,
/// zero biases). Each throws nn::Error for a non-positive channel or filter count, and in forward as its op
/// (nn::conv2d, nn::depthwise_conv2d, nn::separable_conv2d) does.
#pragma once

#include <array>

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// Conv2D's configuration, Keras's arguments.
struct Conv2DOptions {
  int64_t in_channels = 0;                      ///< C
  int64_t filters = 0;                          ///< OC
  std::array<int64_t, 2> kernel_size = {3, 3};  ///< (KH, KW)
  std::array<int64_t, 2> strides = {1, 1};      ///< (height, width)
  Padding padding = Padding::valid;             ///< valid or same, as TensorFlow
  bool use_bias = true;                         ///< false: no "bias" parameter
  Activation activation = Activation::linear;   ///< applied after the bias
};

/// activation(conv2d(x, kernel) + bias): x (N,H,W,C) → (N,OH,OW,OC). Parameters "kernel" (KH,KW,C,filters) and
/// "bias" (filters).
class Conv2D : public Layer {
 public:
  /// Creates the parameters, drawing the kernel from `gen`. Throws nn::Error for a non-positive channel count.
  explicit Conv2D(const Conv2DOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  /// "Conv2D(3->32, kernel=3x3, strides=2x2, padding=valid)".
  std::string to_string() const override;
  /// The configuration it was built with.
  const Conv2DOptions& options() const { return options_; }
  /// The "kernel" parameter (KH,KW,C,filters).
  Tensor kernel() const { return kernel_; }
  /// The "bias" parameter; undefined without use_bias.
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
  int64_t channels = 0;                         ///< C
  std::array<int64_t, 2> kernel_size = {3, 3};  ///< (KH, KW)
  std::array<int64_t, 2> strides = {1, 1};      ///< (height, width)
  Padding padding = Padding::valid;             ///< valid or same, as TensorFlow
  bool use_bias = true;                         ///< false: no "bias" parameter
};

/// Each channel convolved with its own kernel: x (N,H,W,C) → (N,OH,OW,C). Parameters "depthwise_kernel" (KH,KW,C,1)
/// and "bias" (C).
class DepthwiseConv2D : public Layer {
 public:
  /// Creates the parameters, drawing the kernel from `gen`. Throws nn::Error for a non-positive channel count.
  explicit DepthwiseConv2D(const DepthwiseConv2DOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  /// "DepthwiseConv2D(32, kernel=3x3, strides=1x1, padding=same)".
  std::string to_string() const override;
  /// The "depthwise_kernel" parameter (KH,KW,C,1).
  Tensor depthwise_kernel() const { return kernel_; }
  /// The "bias" parameter; undefined without use_bias.
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
  int64_t in_channels = 0;                      ///< C
  int64_t filters = 0;                          ///< OC
  std::array<int64_t, 2> kernel_size = {3, 3};  ///< (KH, KW)
  std::array<int64_t, 2> strides = {1, 1};      ///< (height, width)
  Padding padding = Padding::valid;             ///< valid or same, as TensorFlow
  bool use_bias = true;                         ///< false: no "bias" parameter
  bool relu_input = false;  ///< convolve relu(x), the ReLU fused into the depthwise read (ConvOptions::relu_input)
};

/// Depthwise then pointwise: x (N,H,W,C) → (N,OH,OW,OC). Parameters "depthwise_kernel" (KH,KW,C,1),
/// "pointwise_kernel" (1,1,C,filters), "bias" (filters).
class SeparableConv2D : public Layer {
 public:
  /// Creates the parameters, drawing the kernels from `gen`. Throws nn::Error for a non-positive channel count.
  explicit SeparableConv2D(const SeparableConv2DOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  /// "SeparableConv2D(32->64, kernel=3x3, strides=1x1, padding=same)".
  std::string to_string() const override;
  /// The "depthwise_kernel" parameter (KH,KW,C,1).
  Tensor depthwise_kernel() const { return depthwise_; }
  /// The "pointwise_kernel" parameter (1,1,C,filters).
  Tensor pointwise_kernel() const { return pointwise_; }
  /// The "bias" parameter; undefined without use_bias.
  Tensor bias() const { return bias_; }

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<SeparableConv2D>(options_, scratch_generator());
  }
  SeparableConv2DOptions options_;
  Tensor depthwise_, pointwise_, bias_;
};

}  // namespace nn
