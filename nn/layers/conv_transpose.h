/// @file
/// Conv2DTranspose: the transposed ("de-") convolution layer, NHWC, as Keras's Conv2DTranspose.
#pragma once

#include <array>
#include <optional>

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// Conv2DTranspose's configuration, Keras's arguments.
struct Conv2DTransposeOptions {
  int64_t in_channels = 0;                      ///< C
  int64_t filters = 0;                          ///< OC
  std::array<int64_t, 2> kernel_size = {3, 3};  ///< (KH, KW)
  std::array<int64_t, 2> strides = {1, 1};      ///< (height, width)
  Padding padding = Padding::valid;             ///< valid or same, as Keras
  /// Extra output rows and columns, each below its stride; none: Keras's default size (nn::conv2d_transpose).
  std::optional<std::array<int64_t, 2>> output_padding;
  bool use_bias = true;                        ///< false: no "bias" parameter
  Activation activation = Activation::linear;  ///< applied after the bias
};

/// activation(conv2d_transpose(x, kernel) + bias): x (N,H,W,C) → (N,OH,OW,OC), e.g. strides 2 and 'same' double H
/// and W. Parameters "kernel" (KH,KW,OC,C) glorot-uniform — Keras's layout, output channels before input ones — and
/// "bias" (OC) zeros. Throws nn::Error for a non-positive in_channels, filters or kernel size, and (in forward) as
/// nn::conv2d_transpose does.
class Conv2DTranspose : public Layer {
 public:
  /// Creates the parameters, drawing the kernel from `gen` (see the class comment for what throws).
  explicit Conv2DTranspose(const Conv2DTransposeOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  /// "Conv2DTranspose(16->8, kernel=3x3, strides=2x2, padding=same)".
  std::string to_string() const override;
  /// The configuration it was built with.
  const Conv2DTransposeOptions& options() const { return options_; }
  /// The "kernel" parameter (KH,KW,OC,C).
  Tensor kernel() const { return kernel_; }
  /// The "bias" parameter (OC); undefined without use_bias.
  Tensor bias() const { return bias_; }

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<Conv2DTranspose>(options_, scratch_generator());
  }

  Conv2DTransposeOptions options_;
  Tensor kernel_, bias_;
};

}  // namespace nn
