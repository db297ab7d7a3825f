/// @file
/// Stochastic gradient descent with momentum (Keras's or PyTorch's form), Nesterov and coupled weight decay.
#pragma once

#include "nn/optim/optimizer.h"

namespace nn {

/// How SGD's momentum is kept. With g the gradient (after weight decay) and μ the momentum:
/// - keras:   velocity ← μ·velocity − lr·g;  θ ← θ + velocity  (Nesterov: θ ← θ + μ·velocity − lr·g);
/// - pytorch: buffer ← μ·buffer + g;          θ ← θ − lr·buffer   (Nesterov: θ ← θ − lr·(g + μ·buffer)).
/// With a constant rate the two give the same trajectory (velocity = −lr·buffer); when the rate changes, Keras's
/// velocity keeps the old rates' steps while PyTorch's buffer takes the new rate at once.
enum class MomentumForm { keras, pytorch };

/// SGD's options (one copy per parameter group).
struct SGDOptions {
  float lr = 0.01f;                                  ///< the learning rate, >= 0
  float momentum = 0.0f;                             ///< μ in [0, 1]
  bool nesterov = false;                             ///< Nesterov's look-ahead step
  float weight_decay = 0.0f;                         ///< coupled L2, as torch.optim.SGD's: g ← g + λθ
  MomentumForm momentum_form = MomentumForm::keras;  ///< libnn's historic form; pytorch for torch.optim.SGD
};

/// Stochastic gradient descent; with the pytorch momentum form (and no dampening, which is not offered) it matches
/// torch.optim.SGD step for step.
class SGD : public OptimizerWithOptions<SGDOptions> {
 public:
  /// One group. Throws nn::Error for a parameter that does not require grad or an option out of range.
  explicit SGD(NamedTensors parameters, const SGDOptions& options = {});
  /// Groups with their own rate and weight decay; unset fields take `defaults`.
  SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults = {});

  void step() override;
  /// "velocity.<parameter>" (keras form) or "momentum_buffer.<parameter>" (pytorch form), then "type.SGD" and
  /// "group.<g>.lr". The form is fixed at construction: it decides what the buffer means.
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;
  std::string to_string() const override;

 private:
  NamedTensors buffers() const;
  std::vector<MomentumForm> forms_;  // per group, as constructed
  std::vector<Tensor> buffer_;       // per parameter: Keras's velocity or PyTorch's momentum buffer
};

}  // namespace nn
