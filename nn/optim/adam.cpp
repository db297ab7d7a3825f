#include "nn/optim/adam.h"

#include <cmath>

namespace nn {

Adam::Adam(NamedTensors parameters, const AdamOptions& options) : Optimizer(std::move(parameters)), options_(options) {
  for (auto& [name, p] : parameters_) {
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

void Adam::step() {
  ++steps_;
  const double t = static_cast<double>(steps_);
  const float b1 = options_.beta1, b2 = options_.beta2, eps = options_.epsilon;
  const float lr_t = static_cast<float>(options_.lr * std::sqrt(1.0 - std::pow(b2, t)) / (1.0 - std::pow(b1, t)));
  for (size_t k = 0; k < parameters_.size(); ++k) {
    Tensor& p = parameters_[k].second;
    Tensor g = p.grad();
    if (!g.defined()) continue;
    float* theta = p.data();
    float* m = m_[k].data();
    float* v = v_[k].data();
    const float* pg = g.data();
    const int64_t n = p.numel();
#pragma omp parallel for if (n > (1 << 16))
    for (int64_t i = 0; i < n; ++i) {
      m[i] = b1 * m[i] + (1.0f - b1) * pg[i];
      v[i] = b2 * v[i] + (1.0f - b2) * pg[i] * pg[i];
      theta[i] -= lr_t * m[i] / (std::sqrt(v[i]) + eps);
    }
  }
}

NamedTensors Adam::state() const {
  NamedTensors out{{"step", Tensor::scalar(static_cast<float>(steps_))}};
  for (size_t k = 0; k < parameters_.size(); ++k) out.emplace_back("m." + parameters_[k].first, m_[k]);
  for (size_t k = 0; k < parameters_.size(); ++k) out.emplace_back("v." + parameters_[k].first, v_[k]);
  return out;
}

void Adam::load_state(const NamedTensors& state) {
  NamedTensors expected{{"step", Tensor::scalar(0.0f)}};
  for (size_t k = 0; k < parameters_.size(); ++k) expected.emplace_back("m." + parameters_[k].first, m_[k]);
  for (size_t k = 0; k < parameters_.size(); ++k) expected.emplace_back("v." + parameters_[k].first, v_[k]);
  detail::load_named("Adam::load_state", state, expected);
  steps_ = static_cast<int64_t>(expected[0].second.item());
}

}  // namespace nn
