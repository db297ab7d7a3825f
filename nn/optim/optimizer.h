// Optimisers update named parameters from their accumulated .grad. Their state (moments, step count) is a list
// of named tensors, so it is saved in checkpoints beside the model.
#pragma once

#include <vector>

#include "nn/module.h"

namespace nn {

class Optimizer {
 public:
  explicit Optimizer(NamedTensors parameters);
  virtual ~Optimizer() = default;

  // Applies one update to every parameter that has a gradient.
  virtual void step() = 0;
  // Drops every parameter's gradient.
  void zero_grad();

  // The state as named tensors ("step", "m.<parameter>", …).
  virtual NamedTensors state() const = 0;
  // Restores a state from state(); throws nn::Error naming the tensor on a missing, extra or misshapen entry.
  virtual void load_state(const NamedTensors& state) = 0;

  const NamedTensors& parameters() const { return parameters_; }

 protected:
  NamedTensors parameters_;
};

// Whether every accumulated gradient of `parameters` is finite (a step on a NaN or infinite gradient would spoil
// the weights for good).
bool gradients_finite(const NamedTensors& parameters);

// Scales all gradients so that their global L2 norm is at most max_norm; returns the norm before clipping.
float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm);

namespace detail {
// Checks `state` holds exactly the names and shapes of `expected` and copies the values into it.
void load_named(const char* who, const NamedTensors& state, NamedTensors& expected);
}  // namespace detail

}  // namespace nn
