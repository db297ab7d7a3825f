#include "nn/optim/sgd.h"

#include <cmath>

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

// θ, buffer updated in place from the gradient g (n elements), Keras's form.
void sgd_keras(const SGDOptions& o, float* theta, float* velocity, const float* g, int64_t n) {
  const float lr = o.lr, mu = o.momentum, wd = o.weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    const float gi = wd != 0.0f ? g[i] + wd * theta[i] : g[i];
    velocity[i] = mu * velocity[i] - lr * gi;
    theta[i] += o.nesterov ? mu * velocity[i] - lr * gi : velocity[i];
  }
}

// The same in PyTorch's form (torch.optim.SGD with dampening 0).
void sgd_pytorch(const SGDOptions& o, float* theta, float* buffer, const float* g, int64_t n) {
  const float lr = o.lr, mu = o.momentum, wd = o.weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    float gi = wd != 0.0f ? g[i] + wd * theta[i] : g[i];
    if (mu != 0.0f) {
      buffer[i] = mu * buffer[i] + gi;
      gi = o.nesterov ? gi + mu * buffer[i] : buffer[i];
    }
    theta[i] -= lr * gi;
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
  for (size_t group = 0; group < group_count(); ++group) {
    const SGDOptions& o = options_[group];
    for (size_t k = group_begin_[group]; k < group_begin_[group + 1]; ++k) {
      Tensor& p = parameters_[k].second;
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (o.momentum_form == MomentumForm::keras) {
        sgd_keras(o, p.data(), buffer_[k].data(), g.data(), p.numel());
      } else {
        sgd_pytorch(o, p.data(), buffer_[k].data(), g.data(), p.numel());
      }
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
