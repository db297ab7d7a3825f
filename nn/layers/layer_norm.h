/// @file
/// LayerNorm: normalisation over each sample's last axes (Keras's LayerNormalization, PyTorch's nn.LayerNorm).
#pragma once

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// What LayerNorm normalises and how.
struct LayerNormOptions {
  /// The trailing extents normalised over, e.g. {E} for (N,T,E) or {H,W,C}; the parameters have this shape.
  Shape normalized_shape;
  float epsilon = 1e-3f;  ///< Keras's default (PyTorch's is 1e-5)
  bool center = true;     ///< learn "beta" (else 0)
  bool scale = true;      ///< learn "gamma" (else 1)
};

/// y = (x − μ)/sqrt(σ² + ε)·gamma + beta over the last axes (nn::layer_norm; biased σ²): x (..., normalized_shape)
/// → the same shape. Parameters as Keras names them, "gamma" (ones) and "beta" (zeros), of normalized_shape —
/// PyTorch's weight and bias. Unlike BatchNorm it has no moving statistics: training and eval compute the same.
/// Throws nn::Error for an empty normalized_shape or a non-positive extent, and (in forward) for an input whose last
/// axes differ.
class LayerNorm : public Layer {
 public:
  /// Creates gamma and beta (see the class comment for what throws).
  explicit LayerNorm(const LayerNormOptions& options);
  Tensor forward(const Tensor& x) override;
  /// "LayerNorm([64], epsilon=0.001)".
  std::string to_string() const override;
  /// The configuration it was built with.
  const LayerNormOptions& options() const { return options_; }
  Tensor gamma() const { return gamma_; }  ///< undefined without scale
  Tensor beta() const { return beta_; }    ///< undefined without center

 private:
  std::shared_ptr<Module> clone_module() const override { return std::make_shared<LayerNorm>(options_); }

  LayerNormOptions options_;
  Tensor gamma_, beta_;
};

}  // namespace nn
