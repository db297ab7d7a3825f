#include "nn/optim/optimizer.h"

#include <cmath>
#include <map>

#include "nn/error.h"

namespace nn {

Optimizer::Optimizer(NamedTensors parameters) : parameters_(std::move(parameters)) {
  for (auto& [name, p] : parameters_) {
    if (!p.defined() || !p.requires_grad()) {
      fail_expected("Optimizer", "parameters that require grad", "'" + name + "' that does not");
    }
  }
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : parameters_) p.zero_grad();
}

bool gradients_finite(const NamedTensors& parameters) {
  for (const auto& [name, p] : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    const float* pg = g.data();
    for (int64_t i = 0; i < g.numel(); ++i)
      if (!std::isfinite(pg[i])) return false;
  }
  return true;
}

float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm) {
  if (!(max_norm > 0.0f)) fail_expected("clip_grad_norm", "max_norm > 0", std::to_string(max_norm));
  double total = 0;
  for (const Tensor& p : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    const float* pg = g.data();
    for (int64_t i = 0; i < g.numel(); ++i) total += static_cast<double>(pg[i]) * pg[i];
  }
  float norm = static_cast<float>(std::sqrt(total));
  if (norm > max_norm) {
    float scale = max_norm / norm;
    for (const Tensor& p : parameters) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      float* pg = g.data();
      for (int64_t i = 0; i < g.numel(); ++i) pg[i] *= scale;
    }
  }
  return norm;
}

namespace detail {

void load_named(const char* who, const NamedTensors& state, NamedTensors& expected) {
  std::map<std::string, const Tensor*> given;
  for (const auto& [name, t] : state) given[name] = &t;
  for (auto& [name, t] : expected) {
    auto it = given.find(name);
    if (it == given.end()) fail(who, "state tensor '" + name + "' is missing");
    if (it->second->shape() != t.shape()) {
      fail_expected(who, "state tensor '" + name + "' of shape " + to_string(t.shape()),
                    to_string(it->second->shape()));
    }
    given.erase(it);
  }
  if (!given.empty()) fail(who, "unexpected state tensor '" + given.begin()->first + "'");
  // Only a state that passed every check is copied in.
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : state) by_name[name] = &t;
  for (auto& [name, t] : expected) t.copy_from(*by_name[name]);
}

}  // namespace detail
}  // namespace nn
