#pragma once

#include "nn/module.h"
#include "nn/ops.h"

namespace nn {

struct DenseOptions {
  int64_t in = 0;   // input features
  int64_t out = 0;  // output units
  bool bias = true;
  Activation activation = Activation::linear;
};

// y = activation(x · kernel + bias) over the last axis: x (..., in) → (..., out).
// Parameters "kernel" (in, out) glorot-uniform and "bias" (out) zeros, as Keras.
class Dense : public Layer {
 public:
  explicit Dense(const DenseOptions& options, Generator& gen = default_generator());
  Tensor forward(const Tensor& x) override;
  std::string to_string() const override;

  const DenseOptions& options() const { return options_; }
  Tensor kernel() const { return kernel_; }
  Tensor bias() const { return bias_; }

 private:
  DenseOptions options_;
  Tensor kernel_, bias_;
};

}  // namespace nn
