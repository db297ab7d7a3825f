#include "nn/optim/rmsprop.h"

#include <cmath>

#include "nn/backends/backend.h"

namespace nn {
namespace {

void check_rmsprop_options(const char* who, const std::vector<RMSpropOptions>& options) {
  for (size_t g = 0; g < options.size(); ++g) {
    const RMSpropOptions& o = options[g];
    detail::check_option(o.lr >= 0.0f && std::isfinite(o.lr), who, "lr", "finite and >= 0", g, o.lr);
    detail::check_option(o.alpha >= 0.0f && o.alpha < 1.0f, who, "alpha", "in [0, 1)", g, o.alpha);
    detail::check_option(o.epsilon >= 0.0f && std::isfinite(o.epsilon), who, "epsilon", "finite and >= 0", g,
                         o.epsilon);
    detail::check_option(o.weight_decay >= 0.0f && std::isfinite(o.weight_decay), who, "weight_decay",
                         "finite and >= 0", g, o.weight_decay);
    detail::check_option(o.momentum >= 0.0f && std::isfinite(o.momentum), who, "momentum", "finite and >= 0", g,
                         o.momentum);
  }
}

}  // namespace

RMSprop::RMSprop(NamedTensors parameters, const RMSpropOptions& options)
    : RMSprop({ParamGroup{std::move(parameters)}}, options) {}

RMSprop::RMSprop(std::vector<ParamGroup> groups, const RMSpropOptions& defaults)
    : OptimizerWithOptions("RMSprop", groups, defaults) {
  check_rmsprop_options("RMSprop", options_);
  for (auto& [name, p] : parameters_) square_avg_.push_back(Tensor::zeros(p.shape()));
  grad_avg_.resize(parameters_.size());
  momentum_buffer_.resize(parameters_.size());
  make_buffers();
}

void RMSprop::make_buffers() {
  for (size_t group = 0; group < group_count(); ++group) {
    const RMSpropOptions& o = options_[group];
    for (size_t k = group_begin_[group]; k < group_begin_[group + 1]; ++k) {
      const Shape& shape = parameters_[k].second.shape();
      if (o.centered && !grad_avg_[k].defined()) grad_avg_[k] = Tensor::zeros(shape);
      if (o.momentum > 0.0f && !momentum_buffer_[k].defined()) momentum_buffer_[k] = Tensor::zeros(shape);
    }
  }
}

void RMSprop::step() {
  check_rmsprop_options("RMSprop::step", options_);
  check_f32_parameters("RMSprop::step");
  make_buffers();
  for (size_t group = 0; group < group_count(); ++group) {
    for (size_t k = group_begin_[group]; k < group_begin_[group + 1]; ++k) {
      Tensor& p = parameters_[k].second;
      Tensor g = p.grad();
      if (!g.defined()) continue;
      float* grad_avg = grad_avg_[k].defined() ? grad_avg_[k].data() : nullptr;
      float* buffer = momentum_buffer_[k].defined() ? momentum_buffer_[k].data() : nullptr;
      const RMSpropOptions& o = options_[group];
      const kernels::RmspropStep s{.lr = o.lr,
                                   .alpha = o.alpha,
                                   .eps = o.epsilon,
                                   .weight_decay = o.weight_decay,
                                   .momentum = o.momentum,
                                   .centered = o.centered};
      backend_for(p).rmsprop_update(s, p.numel(), p.data(), square_avg_[k].data(), grad_avg, buffer, g.data());
    }
  }
}

NamedTensors RMSprop::buffers() const {
  NamedTensors out;
  for (size_t k = 0; k < parameters_.size(); ++k)
    out.emplace_back("square_avg." + parameters_[k].first, square_avg_[k]);
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (grad_avg_[k].defined()) out.emplace_back("grad_avg." + parameters_[k].first, grad_avg_[k]);
  }
  for (size_t k = 0; k < parameters_.size(); ++k) {
    if (momentum_buffer_[k].defined()) out.emplace_back("momentum_buffer." + parameters_[k].first, momentum_buffer_[k]);
  }
  return out;
}

NamedTensors RMSprop::state() const {
  return with_common_state("RMSprop", buffers());
}

void RMSprop::load_state(const NamedTensors& state) {
  load_with_common_state("RMSprop", state, buffers());
}

std::string RMSprop::to_string() const {
  return detail::groups_string("RMSprop", options_, [](const RMSpropOptions& o) {
    return "lr=" + detail::number(o.lr) + ", alpha=" + detail::number(o.alpha) +
           ", epsilon=" + detail::number(o.epsilon) + ", weight_decay=" + detail::number(o.weight_decay) +
           ", momentum=" + detail::number(o.momentum) + (o.centered ? ", centered" : "");
  });
}

}  // namespace nn
