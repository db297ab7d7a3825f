#pragma once

#include "nn/optim/optimizer.h"

namespace nn {

struct AdamOptions {
  float lr = 1e-3f;
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float epsilon = 1e-7f;  // Keras's default (PyTorch uses 1e-8)
};

// Adam exactly as Keras computes it: with t the step count,
//   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;
//   θ ← θ − lr·sqrt(1−β2ᵗ)/(1−β1ᵗ) · m / (sqrt(v) + ε)
// ε is added to the uncorrected sqrt(v): this differs from PyTorch's Adam, which adds ε to sqrt(v̂).
class Adam : public Optimizer {
 public:
  explicit Adam(NamedTensors parameters, const AdamOptions& options = {});
  void step() override;
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;

  int64_t steps() const { return steps_; }
  AdamOptions& options() { return options_; }

 private:
  AdamOptions options_;
  int64_t steps_ = 0;
  std::vector<Tensor> m_, v_;
};

}  // namespace nn
