/// @file
/// Adam (Keras's or PyTorch's placement of ε, optional coupled L2 weight decay) and AdamW (decoupled weight decay,
/// torch.optim.AdamW).
#pragma once

#include "nn/optim/optimizer.h"

namespace nn {

/// Where ε goes in Adam's denominator. With t the step count, m̂ = m/(1−β1ᵗ) and v̂ = v/(1−β2ᵗ):
/// - keras:   θ ← θ − lr·sqrt(1−β2ᵗ)/(1−β1ᵗ) · m / (sqrt(v) + ε)   (ε added to the uncorrected sqrt(v));
/// - pytorch: θ ← θ − lr · m̂ / (sqrt(v̂) + ε)                        (torch.optim.Adam and AdamW).
/// The two agree for ε = 0; with ε > 0 Keras's ε weighs 1/sqrt(1−β2ᵗ) times more (about 31× at t = 1).
enum class AdamEpsilon { keras, pytorch };

/// Adam's options (one copy per parameter group).
struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;         ///< in [0, 1)
  float beta2 = 0.999f;       ///< in [0, 1)
  float epsilon = 1e-7f;      ///< Keras's default (PyTorch uses 1e-8)
  float weight_decay = 0.0f;  ///< coupled L2, as torch.optim.Adam's: g ← g + λθ before the moments
  AdamEpsilon epsilon_placement = AdamEpsilon::keras;
};

/// Adam: m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²; then the update of `epsilon_placement` (Keras's by default,
/// which the caption model was trained and checked with). The step count t is the optimiser's (it advances on
/// every step(), also for parameters that had no gradient that step).
class Adam : public OptimizerWithOptions<AdamOptions> {
 public:
  /// One group. Throws nn::Error for a parameter that does not require grad or an option out of range.
  explicit Adam(NamedTensors parameters, const AdamOptions& options = {});
  /// Groups with their own rate and weight decay; unset fields take `defaults`.
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = {});

  void step() override;
  /// "step" (a count), "m.<parameter>", "v.<parameter>", then "type.Adam" and "group.<g>.lr".
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;
  std::string to_string() const override;

  /// Steps taken so far.
  int64_t steps() const { return steps_; }

 private:
  int64_t steps_ = 0;
  std::vector<Tensor> m_, v_;  // per parameter
};

/// AdamW's options (one copy per parameter group); the defaults are torch.optim.AdamW's.
struct AdamWOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;          ///< in [0, 1)
  float beta2 = 0.999f;        ///< in [0, 1)
  float epsilon = 1e-8f;       ///< PyTorch's default
  float weight_decay = 1e-2f;  ///< decoupled: θ ← θ·(1 − lr·λ) before the Adam update
  AdamEpsilon epsilon_placement = AdamEpsilon::pytorch;
};

/// AdamW (Loshchilov & Hutter), as torch.optim.AdamW: θ ← θ·(1 − lr·λ), then Adam's update without weight decay
/// in the gradient. With the default ε placement it matches torch.optim.AdamW step for step.
class AdamW : public OptimizerWithOptions<AdamWOptions> {
 public:
  /// One group. Throws nn::Error for a parameter that does not require grad or an option out of range.
  explicit AdamW(NamedTensors parameters, const AdamWOptions& options = {});
  /// Groups with their own rate and weight decay; unset fields take `defaults`.
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = {});

  void step() override;
  /// "step" (a count), "m.<parameter>", "v.<parameter>", then "type.AdamW" and "group.<g>.lr".
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;
  std::string to_string() const override;

  /// Steps taken so far.
  int64_t steps() const { return steps_; }

 private:
  int64_t steps_ = 0;
  std::vector<Tensor> m_, v_;  // per parameter
};

}  // namespace nn
