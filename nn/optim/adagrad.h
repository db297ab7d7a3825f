/// @file
/// Adagrad as torch.optim.Adagrad: learning-rate decay, an initial accumulator value and coupled weight decay.
#pragma once

#include "nn/optim/optimizer.h"

namespace nn {

/// Adagrad's options (one copy per parameter group); the defaults are torch.optim.Adagrad's.
struct AdagradOptions {
  float lr = 1e-2f;                        ///< the learning rate, >= 0
  float lr_decay = 0.0f;                   ///< the rate of step t is lr / (1 + (t − 1)·lr_decay)
  float weight_decay = 0.0f;               ///< coupled L2: g ← g + λθ
  float initial_accumulator_value = 0.0f;  ///< the sum of squares starts here (read at construction)
  float epsilon = 1e-10f;                  ///< added to sqrt(sum)
};

/// Adagrad, step for step as torch.optim.Adagrad: sum ← sum + g²; θ ← θ − lrₜ·g / (sqrt(sum) + ε), with
/// lrₜ = lr / (1 + (t − 1)·lr_decay). The step count t is each parameter's own, as torch's: it advances when the
/// parameter has a gradient.
class Adagrad : public OptimizerWithOptions<AdagradOptions> {
 public:
  /// One group. Throws nn::Error for a parameter that does not require grad or an option out of range.
  explicit Adagrad(NamedTensors parameters, const AdagradOptions& options = {});
  /// Groups with their own rate and weight decay; unset fields take `defaults`.
  Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults = {});

  void step() override;
  /// "step" (the count of step() calls), "step.<parameter>" (each parameter's count), "sum.<parameter>", then
  /// "type.Adagrad" and "group.<g>.lr".
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;
  std::string to_string() const override;

  /// Steps taken so far (calls of step()).
  int64_t steps() const { return steps_; }
  /// The steps that updated parameter `k` of parameters() (those on which it had a gradient); nn::Error when there
  /// is no such parameter.
  int64_t parameter_steps(size_t k) const;

 private:
  NamedTensors own_state(int64_t steps, const std::vector<int64_t>& parameter_steps) const;
  int64_t steps_ = 0;
  std::vector<int64_t> parameter_steps_;  // per parameter
  std::vector<Tensor> sum_;               // per parameter
};

}  // namespace nn
