// batch_norm over the last axis of x (rows M = numel / C):
//   forward   y = γ·x̂ + β,  x̂ = (x − μ)·r,  r = 1/sqrt(σ² + ε)
//   backward  dβ = Σ dy,  dγ = Σ dy·x̂,
//             dx = γ·r·dy                                   (inference: μ, σ² are constants)
//             dx = γ·r/M · (M·dy − dβ − x̂·dγ)               (training: μ, σ² depend on x)
//
// A bf16 x in inference runs the backend's bf16 affine (statistics and affine parameters f32, the result bf16);
// training or a gradient through a bf16 x take the conversion path (nn/ops/convert.h): the backward is f32 only.
// The moving statistics are f32 always (nn::Module::to leaves them so).
#include <cmath>
#include <memory>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

void check_channel_vector(const Tensor& t, int64_t channels, const char* what) {
  if (!t.defined() || t.shape() != Shape{channels}) {
    fail_expected("batch_norm", std::string(what) + " of shape [" + std::to_string(channels) + "]",
                  t.defined() ? to_string(t.shape()) : std::string("an undefined tensor"));
  }
}

void check_f32_statistics(const Tensor& t, const char* what) {
  if (t.dtype() != DType::f32) {
    fail_expected("batch_norm", std::string(what) + " of dtype f32 (statistics stay f32 in a bf16 model)",
                  dtype_name(t.dtype()));
  }
}

}  // namespace

Tensor batch_norm(const Tensor& x, const Tensor& gamma, const Tensor& beta, Tensor& moving_mean,
                  Tensor& moving_variance, const BatchNormConfig& o) {
  if (x.rank() < 1) fail_expected("batch_norm", "an input of rank ≥ 1", "a scalar");
  const int64_t c = x.dim(-1);
  const int64_t rows = c == 0 ? 0 : x.numel() / c;
  check_channel_vector(gamma, c, "gamma");
  check_channel_vector(beta, c, "beta");
  check_channel_vector(moving_mean, c, "moving_mean");
  check_channel_vector(moving_variance, c, "moving_variance");
  if (o.training && rows < 2) {
    fail_expected("batch_norm", "at least 2 values per channel in training",
                  std::to_string(rows) + " (input " + to_string(x.shape()) + ")");
  }
  check_f32_statistics(moving_mean, "moving_mean");
  check_f32_statistics(moving_variance, "moving_variance");
  const bool native_bf16 = x.dtype() == DType::bf16 && !o.training && !needs_grad({&x, &gamma, &beta});
  if (detail::any_low_precision({x, gamma, beta}) && !native_bf16) {
    return batch_norm(detail::to_f32(x), detail::to_f32(gamma), detail::to_f32(beta), moving_mean, moving_variance, o)
        .to(x.dtype());
  }
  const Backend& be = backend_for(x);

  // μ and r = 1/sqrt(σ² + ε) per channel, from the batch or the moving statistics.
  auto mu = std::make_shared<std::vector<float>>(c);
  auto inv_std = std::make_shared<std::vector<float>>(c);
  if (o.training) {
    std::vector<double> mean(c), variance(c);
    be.channel_moments(rows, c, x.data(), mean.data(), variance.data());
    float* mm = moving_mean.data();
    float* mv = moving_variance.data();
    const double unbias = static_cast<double>(rows) / static_cast<double>(rows - 1);
    for (int64_t j = 0; j < c; ++j) {  // C values: the statistics' own arithmetic, as before the backend table
      (*mu)[j] = static_cast<float>(mean[j]);
      (*inv_std)[j] = static_cast<float>(1.0 / std::sqrt(variance[j] + o.epsilon));
      mm[j] = o.momentum * mm[j] + (1.0f - o.momentum) * static_cast<float>(mean[j]);
      mv[j] = o.momentum * mv[j] + (1.0f - o.momentum) * static_cast<float>(variance[j] * unbias);
    }
  } else {
    for (int64_t j = 0; j < c; ++j) {
      (*mu)[j] = moving_mean.data()[j];
      (*inv_std)[j] = 1.0f / std::sqrt(moving_variance.data()[j] + o.epsilon);
    }
  }

  const Tensor gamma_f32 = detail::to_f32(gamma), beta_f32 = detail::to_f32(beta);
  Tensor y = Tensor::empty(x.shape(), x.dtype());
  be.channel_affine(
      rows, c, {.gamma = gamma_f32.data(), .beta = beta_f32.data(), .mean = mu->data(), .inv_std = inv_std->data()},
      x.dtype(), x.raw_data(), y.raw_data());

  const bool training = o.training;
  record("batch_norm", {x, gamma, beta}, y, [x, gamma, mu, inv_std, rows, c, training](const Tensor& dy) {
    Tensor dx, dgamma = Tensor::empty({c}), dbeta = Tensor::empty({c});
    if (x.requires_grad()) dx = Tensor::empty(x.shape());
    backend_for(dy).batch_norm_backward({.rows = rows,
                                         .channels = c,
                                         .training = training,
                                         .mean = mu->data(),
                                         .inv_std = inv_std->data(),
                                         .gamma = gamma.data()},
                                        x.data(), dy.data(), dx.defined() ? dx.data() : nullptr, dgamma.data(),
                                        dbeta.data());
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
  return y;
}

}  // namespace nn
