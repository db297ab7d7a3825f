#include "nn/optim/adam.h"

#include <cmath>

namespace nn {
namespace {

// One group's constants for step t.
struct AdamStep {
  float b1, b2, eps;
  float step_size;      // keras: lr·sqrt(1−β2ᵗ)/(1−β1ᵗ); pytorch: lr/(1−β1ᵗ)
  float sqrt_bc2;       // keras: 1 (ε meets the uncorrected sqrt(v)); pytorch: sqrt(1−β2ᵗ)
  float coupled_decay;  // λ of g ← g + λθ (Adam), else 0
  float shrink;         // 1 − lr·λ (AdamW), else 1
};

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

// One parameter of n elements: θ, m, v updated in place from the gradient g.
void adam_update(const AdamStep& s, float* theta, float* m, float* v, const float* g, int64_t n) {
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    if (s.shrink != 1.0f) theta[i] *= s.shrink;
    const float gi = s.coupled_decay != 0.0f ? g[i] + s.coupled_decay * theta[i] : g[i];
    m[i] = s.b1 * m[i] + (1.0f - s.b1) * gi;
    v[i] = s.b2 * v[i] + (1.0f - s.b2) * gi * gi;
    theta[i] -= s.step_size * m[i] / (std::sqrt(v[i]) / s.sqrt_bc2 + s.eps);
  }
}

// One step over every group; `group_begin` as Optimizer's.
template <class Options>
void adam_step(const std::vector<Options>& options, const std::vector<size_t>& group_begin, NamedTensors& parameters,
               std::vector<Tensor>& m, std::vector<Tensor>& v, int64_t steps, bool decoupled) {
  for (size_t group = 0; group < options.size(); ++group) {
    const AdamStep s = adam_constants(options[group], steps, decoupled);
    for (size_t k = group_begin[group]; k < group_begin[group + 1]; ++k) {
      Tensor& p = parameters[k].second;
      Tensor g = p.grad();
      if (!g.defined()) continue;
      adam_update(s, p.data(), m[k].data(), v[k].data(), g.data(), p.numel());
    }
  }
}

NamedTensors moments_state(int64_t steps, const NamedTensors& parameters, const std::vector<Tensor>& m,
                           const std::vector<Tensor>& v) {
  NamedTensors out{{"step", detail::count_tensor(steps)}};
  for (size_t k = 0; k < parameters.size(); ++k) out.emplace_back("m." + parameters[k].first, m[k]);
  for (size_t k = 0; k < parameters.size(); ++k) out.emplace_back("v." + parameters[k].first, v[k]);
  return out;
}

void zero_moments(const NamedTensors& parameters, std::vector<Tensor>& m, std::vector<Tensor>& v) {
  for (const auto& [name, p] : parameters) {
    m.push_back(Tensor::zeros(p.shape()));
    v.push_back(Tensor::zeros(p.shape()));
  }
}

template <class Options>
std::string adam_string(const char* type, const std::vector<Options>& options) {
  std::string out = type;
  out += "(";
  for (size_t g = 0; g < options.size(); ++g) {
    const Options& o = options[g];
    if (g > 0) out += "; ";
    if (options.size() > 1) out += "group " + std::to_string(g) + ": ";
    out += "lr=" + detail::number(o.lr) + ", beta1=" + detail::number(o.beta1) + ", beta2=" + detail::number(o.beta2) +
           ", epsilon=" + detail::number(o.epsilon) + " (" +
           (o.epsilon_placement == AdamEpsilon::keras ? "keras" : "pytorch") +
           "), weight_decay=" + detail::number(o.weight_decay);
  }
  return out + ")";
}

}  // namespace

Adam::Adam(NamedTensors parameters, const AdamOptions& options) : Adam({ParamGroup{std::move(parameters)}}, options) {}

Adam::Adam(std::vector<ParamGroup> groups, const AdamOptions& defaults)
    : OptimizerWithOptions("Adam", groups, defaults) {
  check_adam_options("Adam", options_);
  zero_moments(parameters_, m_, v_);
}

void Adam::step() {
  check_adam_options("Adam::step", options_);
  ++steps_;
  adam_step(options_, group_begin_, parameters_, m_, v_, steps_, false);
}

NamedTensors Adam::state() const {
  return with_common_state("Adam", moments_state(steps_, parameters_, m_, v_));
}

void Adam::load_state(const NamedTensors& state) {
  check_state_type("Adam", state);
  const int64_t steps = detail::read_count("Adam::load_state", state, "step");
  load_with_common_state("Adam", state, moments_state(steps_, parameters_, m_, v_));
  steps_ = steps;
}

std::string Adam::to_string() const {
  return adam_string("Adam", options_);
}

AdamW::AdamW(NamedTensors parameters, const AdamWOptions& options)
    : AdamW({ParamGroup{std::move(parameters)}}, options) {}

AdamW::AdamW(std::vector<ParamGroup> groups, const AdamWOptions& defaults)
    : OptimizerWithOptions("AdamW", groups, defaults) {
  check_adam_options("AdamW", options_);
  zero_moments(parameters_, m_, v_);
}

void AdamW::step() {
  check_adam_options("AdamW::step", options_);
  ++steps_;
  adam_step(options_, group_begin_, parameters_, m_, v_, steps_, true);
}

NamedTensors AdamW::state() const {
  return with_common_state("AdamW", moments_state(steps_, parameters_, m_, v_));
}

void AdamW::load_state(const NamedTensors& state) {
  check_state_type("AdamW", state);
  const int64_t steps = detail::read_count("AdamW::load_state", state, "step");
  load_with_common_state("AdamW", state, moments_state(steps_, parameters_, m_, v_));
  steps_ = steps;
}

std::string AdamW::to_string() const {
  return adam_string("AdamW", options_);
}

}  // namespace nn
