#pragma once

#include "nn/optim/optimizer.h"

namespace nn {

struct SGDOptions {
  float lr = 0.01f;
  float momentum = 0.0f;  // velocity ← momentum·velocity − lr·g; θ ← θ + velocity (Keras's form)
  bool nesterov = false;  // θ ← θ + momentum·velocity − lr·g
};

class SGD : public Optimizer {
 public:
  explicit SGD(NamedTensors parameters, const SGDOptions& options = {});
  void step() override;
  NamedTensors state() const override;
  void load_state(const NamedTensors& state) override;

 private:
  SGDOptions options_;
  std::vector<Tensor> velocity_;
};

}  // namespace nn
