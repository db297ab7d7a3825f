#include "nn/optim/adam.h"

#include <cmath>

#include "nn/backends/backend.h"

namespace nn {
namespace {

using kernels::AdamStep;

template <class Options>
void check_adam_options(const char* who, const std::vector<Options>& options) {
  for (size_t g = 0; g < options.size(); ++g) {
    const Options& o = options[g];
    detail::check_option(o.lr >= 0.0f && std::isfinite(o.lr), who, "lr", "finite and >= 0", g, o.lr);
    detail::check_option(o.beta1 >= 0.0f && o.beta1 < 1.0f, who, "beta1", "in [0, 1)", g, o.beta1);
    detail::check_option(o.beta2 >= 0.0f && o.beta2 < 1.0f, who, "beta2", "in [0, 1)", g, o.beta2);
    detail::check_option(o.epsilon >= 0.0f && std::isfinite(o.epsilon), who, "epsilon", "finite and >= 0", g,
                         o.epsilon);
    detail::check_option(o.weight_decay >= 0.0f && std::isfinite(o.weight_decay), who, "weight_decay",
                         "finite and >= 0", g, o.weight_decay);
  }
}

template <class Options>
AdamStep adam_constants(const Options& o, int64_t steps, bool decoupled) {
  const double t = static_cast<double>(steps);
  const double bc1 = 1.0 - std::pow(o.beta1, t), bc2 = 1.0 - std::pow(o.beta2, t);
  AdamStep s{o.beta1, o.beta2, o.epsilon, 0, 1, 0, 1};
  if (o.epsilon_placement == AdamEpsilon::keras) {
    s.step_size = static_cast<float>(o.lr * std::sqrt(bc2) / bc1);
  } else {
    s.step_size = static_cast<float>(o.lr / bc1);
    s.sqrt_bc2 = static_cast<float>(std::sqrt(bc2));
  }
  if (decoupled) {
    s.shrink = static_cast<float>(1.0 - static_cast<double>(o.lr) * o.weight_decay);
  } else {
    s.coupled_decay = o.weight_decay;
  }
  return s;
}

template <class Options>
std::string adam_string(const char* type, const std::vector<Options>& options) {
  return detail::groups_string(type, options, [](const Options& o) {
    return "lr=" + detail::number(o.lr) + ", beta1=" + detail::number(o.beta1) + ", beta2=" + detail::number(o.beta2) +
           ", epsilon=" + detail::number(o.epsilon) + " (" +
           (o.epsilon_placement == AdamEpsilon::keras ? "keras" : "pytorch") +
           "), weight_decay=" + detail::number(o.weight_decay);
  });
}

}  // namespace

template <class Options>
AdamBase<Options>::AdamBase(const char* type, bool decoupled, std::vector<ParamGroup> groups, const Options& defaults)
    : OptimizerWithOptions<Options>(type, groups, defaults), type_(type), decoupled_(decoupled) {
  check_adam_options(type, this->options_);
  for (const auto& [name, p] : this->parameters_) {
    parameter_steps_.push_back(0);
    m_.push_back(Tensor::zeros(p.shape()));
    v_.push_back(Tensor::zeros(p.shape()));
  }
}

template <class Options>
void AdamBase<Options>::step() {
  const std::string who = std::string(type_) + "::step";
  check_adam_options(who.c_str(), this->options_);
  this->check_f32_parameters(who.c_str());
  ++steps_;
  for (size_t group = 0; group < this->group_count(); ++group) {
    for (size_t k = this->group_begin_[group]; k < this->group_begin_[group + 1]; ++k) {
      Tensor& p = this->parameters_[k].second;
      Tensor g = p.grad();
      if (!g.defined()) continue;  // as torch: no update, and the parameter's step count stays
      const AdamStep s = adam_constants(this->options_[group], ++parameter_steps_[k], decoupled_);
      // The cpu backend flushes denormal moments to zero during the update (nn/backends/cpu/rows.cpp says why).
      backend_for(p).adam_update(s, p.numel(), p.data(), m_[k].data(), v_[k].data(), g.data());
    }
  }
}

template <class Options>
int64_t AdamBase<Options>::parameter_steps(size_t k) const {
  if (k >= parameter_steps_.size()) {
    fail_expected("parameter_steps", "a parameter below " + std::to_string(parameter_steps_.size()), std::to_string(k));
  }
  return parameter_steps_[k];
}

template <class Options>
NamedTensors AdamBase<Options>::own_state(int64_t steps, const std::vector<int64_t>& parameter_steps) const {
  const NamedTensors& parameters = this->parameters_;
  NamedTensors out{{"step", detail::count_tensor(steps)}};
  for (size_t k = 0; k < parameters.size(); ++k) {
    out.emplace_back("step." + parameters[k].first, detail::count_tensor(parameter_steps[k]));
  }
  for (size_t k = 0; k < parameters.size(); ++k) out.emplace_back("m." + parameters[k].first, m_[k]);
  for (size_t k = 0; k < parameters.size(); ++k) out.emplace_back("v." + parameters[k].first, v_[k]);
  return out;
}

template <class Options>
NamedTensors AdamBase<Options>::state() const {
  return this->with_common_state(type_, own_state(steps_, parameter_steps_));
}

template <class Options>
void AdamBase<Options>::load_state(const NamedTensors& state) {
  const std::string who = std::string(type_) + "::load_state";
  this->check_state_type(type_, state);
  // The counts are read (and checked) before anything changes; load_with_common_state copies m and v in.
  const int64_t steps = detail::read_count(who, state, "step");
  std::vector<int64_t> parameter_steps;
  for (const auto& [name, p] : this->parameters_) {
    parameter_steps.push_back(detail::read_count(who, state, "step." + name));
  }
  this->load_with_common_state(type_, state, own_state(steps_, parameter_steps_));
  steps_ = steps;
  parameter_steps_ = std::move(parameter_steps);
}

template <class Options>
std::string AdamBase<Options>::to_string() const {
  return adam_string(type_, this->options_);
}

template class AdamBase<AdamOptions>;
template class AdamBase<AdamWOptions>;

Adam::Adam(NamedTensors parameters, const AdamOptions& options) : Adam({ParamGroup{std::move(parameters)}}, options) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : AdamBase("Adam", false, std::move(groups), defaults) {}

AdamW::AdamW(NamedTensors parameters, const AdamWOptions& options)
    : AdamW({ParamGroup{std::move(parameters)}}, options) {}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : AdamBase("AdamW", true, std::move(groups), defaults) {}

}  // namespace nn
