/// @file
/// RMSprop as torch.optim.RMSprop: plain, centered, with momentum and coupled weight decay.
#pragma once

#include "nn/optim/optimizer.h"

namespace nn {

/// RMSprop's options (one copy per parameter group); the defaults are torch.optim.RMSprop's.
struct RMSpropOptions {
  float lr = 1e-2f;           ///< the learning rate, >= 0
  float alpha = 0.99f;        ///< smoothing of the squared-gradient average, in [0, 1)
  float epsilon = 1e-8f;      ///< added to the root (outside the square root, as PyTorch; Keras adds it inside)
  float weight_decay = 0.0f;  ///< coupled L2: g ← g + λθ
  float momentum = 0.0f;      ///< μ >= 0: buffer ← μ·buffer + g/denominator; θ ← θ − lr·buffer
  bool centered = false;      ///< divide by the root of the variance estimate s − ḡ² instead of s
};

/// RMSprop, step for step as torch.optim.RMSprop. With g the gradient (after weight decay):
///   s ← α·s + (1−α)·g²;  centered: ḡ ← α·ḡ + (1−α)·g, d = sqrt(s − ḡ²) + ε, else d = sqrt(s) + ε;
///   momentum μ > 0: b ← μ·b + g/d, θ ← θ − lr·b; else θ ← θ − lr·g/d.
class RMSprop : public OptimizerWithOptions<RMSpropOptions> {
 public:
  /// One group. Throws nn::Error for a parameter that does not require grad or an option out of range.
  explicit RMSprop(NamedTensors parameters, const RMSpropOptions& options = {});
  /// Groups with their own rate and weight decay; unset fields take `defaults`.
  RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults = {});

  void step() override;
  /// "square_avg.<parameter>", "grad_avg.<parameter>" (centered groups), "momentum_buffer.<parameter>" (groups
  /// with momentum), then "type.RMSprop" and "group.<g>.lr". A buffer, once made, is kept and saved.
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;
  std::string to_string() const override;

 private:
  void make_buffers();  // the buffers the current options need (zeros), for each parameter lacking one
  NamedTensors buffers() const;
  std::vector<Tensor> square_avg_, grad_avg_, momentum_buffer_;  // per parameter (the last two may be undefined)
};

}  // namespace nn
