/// @file
/// Flatten: (N, ...) → (N, product of the rest), as Keras's Flatten and PyTorch's nn.Flatten.
#pragma once

#include "nn/layers/module.h"

namespace nn {

/// Which axes Flatten joins (PyTorch's start_dim and end_dim; negative axes count from the end).
struct FlattenOptions {
  int start_axis = 1;  ///< the default keeps the batch axis, as Keras
  int end_axis = -1;   ///< the last axis joined (inclusive); the default is the last
};

/// Joins the axes start_axis…end_axis of its input into one: (N,H,W,C) → (N, H·W·C) by default. A view (reshape),
/// so its gradient is the reshape's. Throws nn::Error naming the input's shape when it lacks those axes.
class Flatten : public Layer {
 public:
  /// Flattens the axes `options` names (checked in forward).
  explicit Flatten(const FlattenOptions& options = {}) : options_(options) {}
  /// x with the axes joined.
  Tensor forward(const Tensor& x) override;
  /// "Flatten()", or "Flatten(start_axis=2, end_axis=-1)" when not the default.
  std::string to_string() const override;
  /// The configuration it was built with.
  const FlattenOptions& options() const { return options_; }

 private:
  std::shared_ptr<Module> clone_module() const override { return std::make_shared<Flatten>(options_); }

  FlattenOptions options_;
};

}  // namespace nn
