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
  float lr = 1e-3f;           ///< the learning rate, >= 0
  float beta1 = 0.9f;         ///< in [0, 1)
  float beta2 = 0.999f;       ///< in [0, 1)
  float epsilon = 1e-7f;      ///< Keras's default (PyTorch uses 1e-8)
  float weight_decay = 0.0f;  ///< coupled L2, as torch.optim.Adam's: g ← g + λθ before the moments
  AdamEpsilon epsilon_placement = AdamEpsilon::keras;  ///< where ε goes (Keras's placement by default)
};

/// The one implementation of Adam and AdamW (below), over their options type: m ← β1·m + (1−β1)·g;
/// v ← β2·v + (1−β2)·g²; then the update of `epsilon_placement`. With `decoupled` (AdamW) the weight decay shrinks
/// θ ← θ·(1 − lr·λ) first; without (Adam) it is coupled L2, g ← g + λθ before the moments. The step count t of the
/// bias corrections is each parameter's own, as torch's: it advances when the parameter has a gradient, so a
/// parameter without one on some steps (a frozen branch, an unused embedding) gets torch's update when it has one.
/// (Keras counts the optimiser's steps for every variable: with AdamEpsilon::keras such a parameter's update then
/// differs from Keras's; with a gradient on every step the two counts are the same.)
template <class Options>
class AdamBase : public OptimizerWithOptions<Options> {
 public:
  /// One Adam (or AdamW) update of every parameter that has a gradient, as described above.
  void step() override;
  /// "step" (the count of step() calls), "step.<parameter>" (each parameter's count), "m.<parameter>",
  /// "v.<parameter>", then "type.<Adam|AdamW>" and "group.<g>.lr".
  NamedTensors state() const override;
  /// Restores a state from state(); nn::Error naming the entry when it is another type's, missing, extra or
  /// misshapen (nothing changes then).
  void load_state(const NamedTensors& state) override;
  /// "Adam(lr=0.001, beta1=0.9, …)" or "AdamW(…)", one entry per group.
  std::string to_string() const override;

  /// Steps taken so far (calls of step()).
  int64_t steps() const { return steps_; }
  /// The steps that updated parameter `k` of parameters() (those on which it had a gradient); nn::Error when there
  /// is no such parameter.
  int64_t parameter_steps(size_t k) const;

 protected:
  /// `type` names the optimiser in messages and in the state ("Adam", "AdamW"). Throws nn::Error for a parameter
  /// that does not require grad or an option out of range.
  AdamBase(const char* type, bool decoupled, std::vector<ParamGroup> groups, const Options& defaults);

 private:
  NamedTensors own_state(int64_t steps, const std::vector<int64_t>& parameter_steps) const;

  const char* type_;
  bool decoupled_;
  int64_t steps_ = 0;
  std::vector<int64_t> parameter_steps_;  // per parameter
  std::vector<Tensor> m_, v_;             // per parameter
};

/// Adam with Keras's ε placement by default (which the caption model was trained and checked with); with
/// AdamEpsilon::pytorch and ε = 1e-8 it is torch.optim.Adam, step for step, weight decay included.
class Adam : public AdamBase<AdamOptions> {
 public:
  /// One group. Throws nn::Error for a parameter that does not require grad or an option out of range.
  explicit Adam(NamedTensors parameters, const AdamOptions& options = {});
  /// Groups with their own rate and weight decay; unset fields take `defaults`.
  Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults = {});
};

/// AdamW's options (one copy per parameter group); the defaults are torch.optim.AdamW's.
struct AdamWOptions {
  float lr = 1e-3f;            ///< the learning rate, >= 0
  float beta1 = 0.9f;          ///< in [0, 1)
  float beta2 = 0.999f;        ///< in [0, 1)
  float epsilon = 1e-8f;       ///< PyTorch's default
  float weight_decay = 1e-2f;  ///< decoupled: θ ← θ·(1 − lr·λ) before the Adam update
  AdamEpsilon epsilon_placement = AdamEpsilon::pytorch;  ///< where ε goes (PyTorch's placement by default)
};

/// AdamW (Loshchilov & Hutter), as torch.optim.AdamW: θ ← θ·(1 − lr·λ), then Adam's update without weight decay
/// in the gradient. With the default ε placement it matches torch.optim.AdamW step for step (each parameter
/// counting its own steps, as torch). Without weight decay it is Adam with the same options, bit for bit.
class AdamW : public AdamBase<AdamWOptions> {
 public:
  /// One group. Throws nn::Error for a parameter that does not require grad or an option out of range.
  explicit AdamW(NamedTensors parameters, const AdamWOptions& options = {});
  /// Groups with their own rate and weight decay; unset fields take `defaults`.
  AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults = {});
};

extern template class AdamBase<AdamOptions>;
extern template class AdamBase<AdamWOptions>;

}  // namespace nn
