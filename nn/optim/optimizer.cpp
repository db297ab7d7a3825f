#include "nn/optim/optimizer.h"

#include <cmath>
#include <cstdio>
#include <map>
#include <set>

#include "nn/backends/backend.h"
#include "nn/core/error.h"

namespace nn {

Optimizer::Optimizer(const char* who, const std::vector<ParamGroup>& groups) {
  std::map<std::string, size_t> group_of;            // a name may appear once over all groups: the state is keyed by it
  std::map<const TensorImpl*, std::string> name_of;  // and a tensor once: it would be updated twice per step
  group_begin_.push_back(0);
  for (size_t g = 0; g < groups.size(); ++g) {
    for (const auto& [name, p] : groups[g].parameters) {
      if (!p.defined() || !p.requires_grad()) {
        fail_expected(who, "parameters that require grad", "'" + name + "' that does not");
      }
      auto [it, fresh] = group_of.emplace(name, g);
      if (!fresh) {
        const std::string where = it->second == g
                                      ? "in group " + std::to_string(g)
                                      : "in groups " + std::to_string(it->second) + " and " + std::to_string(g);
        fail(who, "parameter name '" + name + "' appears twice (" + where +
                      "); the state is keyed by name, so names must be unique (prefix the names of parameters "
                      "gathered from separate modules, e.g. \"head.\" + name)");
      }
      auto [same, first] = name_of.emplace(p.impl().get(), name);
      if (!first) {
        fail(who, "parameters '" + same->second + "' and '" + name +
                      "' are the same tensor (tied weights?); give each tensor once, as Module::named_parameters() "
                      "does, or it would be updated twice per step");
      }
      parameters_.emplace_back(name, p);
    }
    group_begin_.push_back(parameters_.size());
  }
  if (groups.empty()) fail_expected(who, "at least one parameter group", "none");
}

void Optimizer::zero_grad() {
  for (auto& [name, p] : parameters_) p.zero_grad();
}

size_t Optimizer::checked_group(const char* who, size_t group) const {
  if (group >= group_count()) {
    fail_expected(who, "a group below " + std::to_string(group_count()), "group " + std::to_string(group));
  }
  return group;
}

NamedTensors Optimizer::group_parameters(size_t group) const {
  const size_t g = checked_group("group_parameters", group);
  return NamedTensors(parameters_.begin() + static_cast<std::ptrdiff_t>(group_begin_[g]),
                      parameters_.begin() + static_cast<std::ptrdiff_t>(group_begin_[g + 1]));
}

void Optimizer::check_learning_rate(const char* who, float lr, size_t group) {
  detail::check_option(lr >= 0.0f && std::isfinite(lr), who, "lr", "finite and >= 0", group, lr);
}

NamedTensors Optimizer::with_common_state(const std::string& type, NamedTensors own) const {
  own.emplace_back("type." + type, Tensor::scalar(1.0f));
  for (size_t g = 0; g < group_count(); ++g) {
    own.emplace_back("group." + std::to_string(g) + ".lr", Tensor::scalar(learning_rate(g)));
  }
  return own;
}

void Optimizer::check_f32_parameters(const char* who) const {
  detail::check_f32_gradients(who, parameters_);
}

void Optimizer::check_state_type(const std::string& type, const NamedTensors& state) {
  for (const auto& [name, t] : state) {
    if (name.starts_with("type.") && name != "type." + type) {
      fail(type + "::load_state",
           "the state is another optimiser's (entry '" + printable(name) + "'), expected 'type." + type + "'");
    }
  }
}

void Optimizer::load_with_common_state(const std::string& type, const NamedTensors& state, NamedTensors own) {
  const std::string who = type + "::load_state";
  check_state_type(type, state);
  // The rates are checked before anything is copied, so that a refused state changes nothing.
  std::vector<float> rates;
  for (size_t g = 0; g < group_count(); ++g) {
    const std::string name = "group." + std::to_string(g) + ".lr";
    const Tensor* t = detail::find(state, name);
    if (t == nullptr) fail(who, "state tensor '" + name + "' is missing");
    const float lr = t->numel() == 1 ? t->data()[0] : -1.0f;
    if (!(lr >= 0.0f) || !std::isfinite(lr)) {
      fail_expected(who, "state tensor '" + name + "' a finite rate >= 0",
                    t->numel() == 1 ? detail::number(lr) : nn::to_string(t->shape()));
    }
    rates.push_back(lr);
  }
  NamedTensors expected = with_common_state(type, std::move(own));
  detail::load_named(who.c_str(), state, expected);
  for (size_t g = 0; g < group_count(); ++g) set_learning_rate(rates[g], g);
}

namespace detail {
void check_f32_gradients(const char* who, const NamedTensors& parameters) {
  for (const auto& [name, p] : parameters) {
    const Tensor g = p.grad();
    const DType type = p.dtype() != DType::f32 ? p.dtype() : (g.defined() ? g.dtype() : DType::f32);
    if (type != DType::f32) {
      fail_expected(who, "f32 parameters and gradients (convert the model with .to(nn::f32) to train it)",
                    std::string(dtype_name(type)) + " " + (p.dtype() != DType::f32 ? "parameter '" : "gradient of '") +
                        name + "'");
    }
  }
}
}  // namespace detail

bool gradients_finite(const NamedTensors& parameters) {
  detail::check_f32_gradients("gradients_finite", parameters);
  for (const auto& [name, p] : parameters) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    bool finite = true;
    backend_for(g).all_finite(g.numel(), g.data(), &finite);
    if (!finite) return false;
  }
  return true;
}

float clip_grad_norm(const std::vector<Tensor>& parameters, float max_norm) {
  if (!(max_norm > 0.0f)) fail_expected("clip_grad_norm", "max_norm > 0", std::to_string(max_norm));
  for (size_t k = 0; k < parameters.size(); ++k) {
    detail::check_f32_gradients("clip_grad_norm", {{"parameter " + std::to_string(k), parameters[k]}});
  }
  // A tensor given twice (tied weights) is one gradient: counted and scaled once.
  std::vector<Tensor> unique;
  std::set<const TensorImpl*> seen;
  for (const Tensor& p : parameters) {
    if (p.defined() && seen.insert(p.impl().get()).second) unique.push_back(p);
  }
  double total = 0;
  for (const Tensor& p : unique) {
    Tensor g = p.grad();
    if (!g.defined()) continue;
    backend_for(g).sum_squares(g.numel(), g.data(), &total);
  }
  float norm = static_cast<float>(std::sqrt(total));
  if (norm > max_norm) {
    float scale = max_norm / norm;
    for (const Tensor& p : unique) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      backend_for(g).map({.op = kernels::Unary::mul_scalar, .p0 = scale}, DType::f32, g.numel(), g.data(), g.data());
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
  if (!given.empty()) fail(who, "unexpected state tensor '" + printable(given.begin()->first) + "'");
  // Only a state that passed every check is copied in.
  std::map<std::string, const Tensor*> by_name;
  for (const auto& [name, t] : state) by_name[name] = &t;
  for (auto& [name, t] : expected) t.copy_from(*by_name[name]);
}

namespace {
constexpr int64_t kCountBase = int64_t{1} << 24;  // float32 holds every whole number below 2^24 exactly
}  // namespace

Tensor count_tensor(int64_t count) {
  return Tensor::from_data({2}, {static_cast<float>(count / kCountBase), static_cast<float>(count % kCountBase)});
}

int64_t read_count(const std::string& who, const NamedTensors& state, const std::string& name) {
  const Tensor* t = find(state, name);
  if (t == nullptr) fail(who, "state tensor '" + name + "' is missing");
  if (t->shape() != Shape{2}) fail_expected(who, "state tensor '" + name + "' of shape [2]", to_string(t->shape()));
  const float high = t->data()[0], low = t->data()[1];
  auto whole = [](float v) { return v >= 0.0f && v < static_cast<float>(kCountBase) && v == std::floor(v); };
  if (!whole(high) || !whole(low)) {
    fail_expected(who, "state tensor '" + name + "' a count (two whole numbers in [0, 2^24))",
                  number(high) + ", " + number(low));
  }
  return static_cast<int64_t>(high) * kCountBase + static_cast<int64_t>(low);
}

const Tensor* find(const NamedTensors& state, const std::string& name) {
  for (const auto& [n, t] : state)
    if (n == name) return &t;
  return nullptr;
}

std::string number(double value) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", value);
  return text;
}

void check_option(bool ok, const char* who, const char* option, const char* range, size_t group, double value) {
  if (!ok) {
    fail_expected(who, std::string(option) + " " + range + " for group " + std::to_string(group), number(value));
  }
}

}  // namespace detail
}  // namespace nn
