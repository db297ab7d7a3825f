#include "nn/optim/sgd.h"

namespace nn {

SGD::SGD(NamedTensors parameters, const SGDOptions& options) : Optimizer(std::move(parameters)), options_(options) {
  for (auto& [name, p] : parameters_) velocity_.push_back(Tensor::zeros(p.shape()));
}

void SGD::step() {
  const float lr = options_.lr, mu = options_.momentum;
  for (size_t k = 0; k < parameters_.size(); ++k) {
    Tensor& p = parameters_[k].second;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    float* theta = p.data();
    float* vel = velocity_[k].data();
    const float* pg = g.data();
    for (int64_t i = 0; i < p.numel(); ++i) {
      vel[i] = mu * vel[i] - lr * pg[i];
      theta[i] += options_.nesterov ? mu * vel[i] - lr * pg[i] : vel[i];
    }
  }
}

NamedTensors SGD::state() const {
  NamedTensors out;
  for (size_t k = 0; k < parameters_.size(); ++k) out.emplace_back("velocity." + parameters_[k].first, velocity_[k]);
  return out;
}

void SGD::load_state(const NamedTensors& state) {
  NamedTensors expected;
  for (size_t k = 0; k < parameters_.size(); ++k) {
    expected.emplace_back("velocity." + parameters_[k].first, velocity_[k]);
  }
  detail::load_named("SGD::load_state", state, expected);
}

}  // namespace nn
