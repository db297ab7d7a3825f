#include "nn/optim/sgd.h"

#include <cmath>

#include "nn/backends/backend.h"

namespace nn {
namespace {

void check_sgd_options(const char* who, const std::vector<SGDOptions>& options,
                       const std::vector<MomentumForm>& forms) {
  for (size_t g = 0; g < options.size(); ++g) {
    const SGDOptions& o = options[g];
    detail::check_option(o.lr >= 0.0f && std::isfinite(o.lr), who, "lr", "finite and >= 0", g, o.lr);
    detail::check_option(o.momentum >= 0.0f && o.momentum <= 1.0f, who, "momentum", "in [0, 1]", g, o.momentum);
    detail::check_option(o.weight_decay >= 0.0f && std::isfinite(o.weight_decay), who, "weight_decay",
                         "finite and >= 0", g, o.weight_decay);
    if (!forms.empty() && o.momentum_form != forms[g]) {
      fail(who, "momentum_form of group " + std::to_string(g) +
                    " changed after construction (the momentum buffer would change meaning); build a new SGD");
    }
  }
}

}  // namespace

SGD::SGD(NamedTensors parameters, const SGDOptions& options) : SGD({ParamGroup{std::move(parameters)}}, options) {}

SGD::SGD(std::vector<ParamGroup> groups, const SGDOptions& defaults) : OptimizerWithOptions("SGD", groups, defaults) {
  check_sgd_options("SGD", options_, {});
  for (const SGDOptions& o : options_) forms_.push_back(o.momentum_form);
  for (auto& [name, p] : parameters_) buffer_.push_back(Tensor::zeros(p.shape()));
}

void SGD::step() {
  check_sgd_options("SGD::step", options_, forms_);
  check_f32_parameters("SGD::step");
  for (size_t group = 0; group < group_count(); ++group) {
    const SGDOptions& o = options_[group];
    for (size_t k = group_begin_[group]; k < group_begin_[group + 1]; ++k) {
      Tensor& p = parameters_[k].second;
      Tensor g = p.grad();
      if (!g.defined()) continue;
      const kernels::SgdStep s{.lr = o.lr,
                               .momentum = o.momentum,
                               .weight_decay = o.weight_decay,
                               .nesterov = o.nesterov,
                               .keras_form = o.momentum_form == MomentumForm::keras};
      backend_for(p).sgd_update(s, p.numel(), p.data(), buffer_[k].data(), g.data());
    }
  }
}

NamedTensors SGD::buffers() const {
  NamedTensors out;
  for (size_t group = 0; group < group_count(); ++group) {
    const char* prefix = forms_[group] == MomentumForm::keras ? "velocity." : "momentum_buffer.";
    for (size_t k = group_begin_[group]; k < group_begin_[group + 1]; ++k) {
      out.emplace_back(prefix + parameters_[k].first, buffer_[k]);
    }
  }
  return out;
}

NamedTensors SGD::state() const {
  return with_common_state("SGD", buffers());
}

void SGD::load_state(const NamedTensors& state) {
  load_with_common_state("SGD", state, buffers());
}

std::string SGD::to_string() const {
  return detail::groups_string("SGD", options_, [](const SGDOptions& o) {
    return "lr=" + detail::number(o.lr) + ", momentum=" + detail::number(o.momentum) +
           (o.nesterov ? ", nesterov" : "") + " (" + (o.momentum_form == MomentumForm::keras ? "keras" : "pytorch") +
           "), weight_decay=" + detail::number(o.weight_decay);
  });
}

}  // namespace nn
