/// @file
/// Dense, Keras's fully connected layer.
#pragma once

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// Dense's configuration: `Dense({.in = 64, .out = 10, .activation = Activation::relu})`.
struct DenseOptions {
  int64_t in = 0;                              ///< input features
  int64_t out = 0;                             ///< output units
  bool bias = true;                            ///< false: no "bias" parameter
  Activation activation = Activation::linear;  ///< applied to the output (nn::Activation, nn/ops/ops.h)
};

/// y = activation(x · kernel + bias) over the last axis: x (..., in) → (..., out).
/// Parameters "kernel" (in, out) glorot-uniform and "bias" (out) zeros, as Keras.
class Dense : public Layer {
 public:
  /// Draws the kernel from `gen`; throws nn::Error unless in > 0 and out > 0.
  explicit Dense(const DenseOptions& options, Generator& gen = default_generator());
  /// x (..., in) → (..., out); another last extent is an nn::Error with both shapes.
  Tensor forward(const Tensor& x) override;
  /// "Dense(in=64, out=10, activation=relu)".
  std::string to_string() const override;

  const DenseOptions& options() const { return options_; }  ///< as constructed
  Tensor kernel() const { return kernel_; }                 ///< (in, out)
  Tensor bias() const { return bias_; }                     ///< (out); undefined without bias

 private:
  std::shared_ptr<Module> clone_module() const override {
    return std::make_shared<Dense>(options_, scratch_generator());
  }
  DenseOptions options_;
  Tensor kernel_, bias_;
};

}  // namespace nn
