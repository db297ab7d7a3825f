#include "nn/optim/adagrad.h"

#include <cmath>

#include "nn/backends/backend.h"

namespace nn {
namespace {

void check_adagrad_options(const char* who, const std::vector<AdagradOptions>& options) {
  for (size_t g = 0; g < options.size(); ++g) {
    const AdagradOptions& o = options[g];
    detail::check_option(o.lr >= 0.0f && std::isfinite(o.lr), who, "lr", "finite and >= 0", g, o.lr);
    detail::check_option(o.lr_decay >= 0.0f && std::isfinite(o.lr_decay), who, "lr_decay", "finite and >= 0", g,
                         o.lr_decay);
    detail::check_option(o.weight_decay >= 0.0f && std::isfinite(o.weight_decay), who, "weight_decay",
                         "finite and >= 0", g, o.weight_decay);
    detail::check_option(o.initial_accumulator_value >= 0.0f && std::isfinite(o.initial_accumulator_value), who,
                         "initial_accumulator_value", "finite and >= 0", g, o.initial_accumulator_value);
    detail::check_option(o.epsilon >= 0.0f && std::isfinite(o.epsilon), who, "epsilon", "finite and >= 0", g,
                         o.epsilon);
  }
}

}  // namespace

Adagrad::Adagrad(NamedTensors parameters, const AdagradOptions& options)
    : Adagrad({ParamGroup{std::move(parameters)}}, options) {}

Adagrad::Adagrad(std::vector<ParamGroup> groups, const AdagradOptions& defaults)
    : OptimizerWithOptions("Adagrad", groups, defaults) {
  check_adagrad_options("Adagrad", options_);
  for (size_t group = 0; group < group_count(); ++group) {
    for (size_t k = group_begin_[group]; k < group_begin_[group + 1]; ++k) {
      sum_.push_back(Tensor::full(parameters_[k].second.shape(), options_[group].initial_accumulator_value));
      parameter_steps_.push_back(0);
    }
  }
}

void Adagrad::step() {
  check_adagrad_options("Adagrad::step", options_);
  check_f32_parameters("Adagrad::step");
  ++steps_;
  for (size_t group = 0; group < group_count(); ++group) {
    const AdagradOptions& o = options_[group];
    for (size_t k = group_begin_[group]; k < group_begin_[group + 1]; ++k) {
      Tensor& p = parameters_[k].second;
      Tensor grad = p.grad();
      if (!grad.defined()) continue;  // as torch: no update, and the parameter's step count stays
      const int64_t t = ++parameter_steps_[k];
      const kernels::AdagradStep s{.lr = static_cast<float>(o.lr / (1.0 + static_cast<double>(t - 1) * o.lr_decay)),
                                   .eps = o.epsilon,
                                   .weight_decay = o.weight_decay};
      backend_for(p).adagrad_update(s, p.numel(), p.data(), sum_[k].data(), grad.data());
    }
  }
}

NamedTensors Adagrad::own_state(int64_t steps, const std::vector<int64_t>& parameter_steps) const {
  NamedTensors out{{"step", detail::count_tensor(steps)}};
  for (size_t k = 0; k < parameters_.size(); ++k) {
    out.emplace_back("step." + parameters_[k].first, detail::count_tensor(parameter_steps[k]));
  }
  for (size_t k = 0; k < parameters_.size(); ++k) out.emplace_back("sum." + parameters_[k].first, sum_[k]);
  return out;
}

NamedTensors Adagrad::state() const {
  return with_common_state("Adagrad", own_state(steps_, parameter_steps_));
}

void Adagrad::load_state(const NamedTensors& state) {
  check_state_type("Adagrad", state);
  // The counts are read (and checked) before anything changes; load_with_common_state copies the sums in.
  const int64_t steps = detail::read_count("Adagrad::load_state", state, "step");
  std::vector<int64_t> parameter_steps;
  for (const auto& [name, p] : parameters_) {
    parameter_steps.push_back(detail::read_count("Adagrad::load_state", state, "step." + name));
  }
  load_with_common_state("Adagrad", state, own_state(steps_, parameter_steps_));
  steps_ = steps;
  parameter_steps_ = std::move(parameter_steps);
}

int64_t Adagrad::parameter_steps(size_t k) const {
  if (k >= parameter_steps_.size()) {
    fail_expected("parameter_steps", "a parameter below " + std::to_string(parameter_steps_.size()), std::to_string(k));
  }
  return parameter_steps_[k];
}

std::string Adagrad::to_string() const {
  return detail::groups_string("Adagrad", options_, [](const AdagradOptions& o) {
    return "lr=" + detail::number(o.lr) + ", lr_decay=" + detail::number(o.lr_decay) +
           ", weight_decay=" + detail::number(o.weight_decay) +
           ", initial_accumulator_value=" + detail::number(o.initial_accumulator_value) +
           ", epsilon=" + detail::number(o.epsilon);
  });
}

}  // namespace nn
