/// @file
/// Activation layers, so that a Sequential can hold them: ReLU, LeakyReLU, ELU, GELU, SiLU, Sigmoid, Tanh, Softmax.
/// Each is the op of the same name (nn/ops/ops.h) with its arguments; none has parameters.
#pragma once

#include <functional>

#include "nn/layers/module.h"
#include "nn/ops/ops.h"

namespace nn {

/// The one mechanism behind the activation layers: a function of x, the configuration it prints, and how to build
/// another one like it (for clone()). A layer of one's own can be made the same way.
class ActivationLayer : public Layer {
 public:
  using Function = std::function<Tensor(const Tensor&)>;     ///< x → the activation of x, same shape
  using Rebuild = std::function<std::shared_ptr<Module>()>;  ///< makes a fresh layer like this one

  /// The function applied to x.
  Tensor forward(const Tensor& x) override { return function_(x); }
  /// The configuration, e.g. "LeakyReLU(negative_slope=0.2)".
  std::string to_string() const override { return config_; }

 protected:
  /// A layer that prints as `config`, computes `function` and clones by calling `rebuild`.
  ActivationLayer(std::string config, Function function, Rebuild rebuild)
      : config_(std::move(config)), function_(std::move(function)), rebuild_(std::move(rebuild)) {}

 private:
  std::shared_ptr<Module> clone_module() const override { return rebuild_(); }

  std::string config_;
  Function function_;
  Rebuild rebuild_;
};

/// max(x, 0).
class ReLU : public ActivationLayer {
 public:
  ReLU();
};

/// x < 0 ? negative_slope·x : x (PyTorch's default slope 0.01; Keras's LeakyReLU uses 0.3).
class LeakyReLU : public ActivationLayer {
 public:
  /// The slope applied to negative inputs.
  explicit LeakyReLU(float negative_slope = 0.01f);
};

/// x < 0 ? α(eˣ − 1) : x.
class ELU : public ActivationLayer {
 public:
  /// α, the limit −α for large negative inputs.
  explicit ELU(float alpha = 1.0f);
};

/// x·Φ(x), the exact erf form.
class GELU : public ActivationLayer {
 public:
  GELU();
};

/// x·sigmoid(x) (Keras's "swish").
class SiLU : public ActivationLayer {
 public:
  SiLU();
};

/// 1/(1 + e⁻ˣ).
class Sigmoid : public ActivationLayer {
 public:
  Sigmoid();
};

/// tanh(x).
class Tanh : public ActivationLayer {
 public:
  Tanh();
};

/// softmax along `axis` (the last by default).
class Softmax : public ActivationLayer {
 public:
  /// The axis the softmax runs along (negative counts from the end).
  explicit Softmax(int axis = -1);
};

}  // namespace nn
