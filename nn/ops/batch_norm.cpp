// batch_norm over the last axis of x (rows M = numel / C):
//   forward   y = γ·x̂ + β,  x̂ = (x − μ)·r,  r = 1/sqrt(σ² + ε)
//   backward  dβ = Σ dy,  dγ = Σ dy·x̂,
//             dx = γ·r·dy                                   (inference: μ, σ² are constants)
//             dx = γ·r/M · (M·dy − dβ − x̂·dγ)               (training: μ, σ² depend on x)
// Synchronised (config.sync, data-parallel training): M, μ, σ², and in the backward dβ and dγ, are summed over
// every process's rows, so that each process's dx is its rows' part of the one-process dx (global_dx).
//
// A bf16 x in inference runs the backend's bf16 affine (statistics and affine parameters f32, the result bf16);
// training or a gradient through a bf16 x take the conversion path (nn/ops/convert.h): the backward is f32 only.
// The moving statistics are f32 always (nn::Module::to leaves them so).
#include <algorithm>
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
    fail_expected("batch_norm", std::string(what) + " of shape [" + std::to_string(channels) + "]", shape_text(t));
  }
}

void check_f32_statistics(const Tensor& t, const char* what) {
  if (t.dtype() != DType::f32) {
    fail_expected("batch_norm", std::string(what) + " of dtype f32 (statistics stay f32 in a bf16 model)",
                  dtype_name(t.dtype()));
  }
}

// A synchronised batch norm's statistics: this process's mean and biased variance per channel of `rows` rows become
// those of every process's rows together (sums of x and x² in double, over the processes); returns the rows in all.
int64_t global_moments(BatchNormSync& sync, int64_t rows, std::vector<double>& mean, std::vector<double>& variance) {
  const size_t c = mean.size();
  std::vector<double> sums(1 + 2 * c);  // rows, Σx (C), Σx² (C)
  sums[0] = static_cast<double>(rows);
  for (size_t j = 0; j < c; ++j) {
    sums[1 + j] = rows * mean[j];
    sums[1 + c + j] = rows * (variance[j] + mean[j] * mean[j]);
  }
  sync.sum(sums);
  const double total = sums[0];
  for (size_t j = 0; j < c; ++j) {
    mean[j] = sums[1 + j] / total;
    variance[j] = std::max(0.0, sums[1 + c + j] / total - mean[j] * mean[j]);
  }
  return static_cast<int64_t>(total);
}

// A synchronised batch norm's dx (rows, C) in training, from this process's dbeta = Σ dy and dgamma = Σ dy·x̂ and
// dx = γ·r·dy (the kernel's inference form): Σ_processes weight·dbeta and weight·dgamma (each process's dy is the
// gradient of its own loss, which the average weighs by its weight) divided by this process's weight give D_β and
// D_γ, and dx −= γ·r·(D_β + x̂·D_γ)/M, M the rows of every process: channel_affine with scale −γ·r·D_γ/M and
// offset −γ·r·D_β/M, added to dx.
void global_dx(BatchNormSync& sync, const Backend& be, const Tensor& x, const float* gamma, const float* mu,
               const float* inv_std, int64_t total_rows, const Tensor& dgamma, const Tensor& dbeta, Tensor& dx) {
  const int64_t c = x.dim(-1), rows = x.numel() / c;
  const double weight = sync.gradient_weight();
  std::vector<double> sums(2 * c);
  for (int64_t j = 0; j < c; ++j) sums[j] = weight * dbeta.data()[j], sums[c + j] = weight * dgamma.data()[j];
  sync.sum(sums);
  // A process whose loss has no weight: its gradients are multiplied by 0 in the average; any finite dx will do.
  const double scale = weight > 0 ? 1.0 / weight : 0.0;
  std::vector<float> a(c), b(c);
  for (int64_t j = 0; j < c; ++j) {
    const double gr = static_cast<double>(gamma[j]) * inv_std[j] / static_cast<double>(total_rows) * scale;
    a[j] = static_cast<float>(-gr * sums[c + j]);
    b[j] = static_cast<float>(-gr * sums[j]);
  }
  Tensor correction = Tensor::empty(x.shape());
  be.channel_affine(rows, c, {.gamma = a.data(), .beta = b.data(), .mean = mu, .inv_std = inv_std}, DType::f32,
                    x.data(), correction.data());
  be.axpy(x.numel(), 1.0f, correction.data(), dx.data());
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
  if (o.training && o.sync == nullptr && rows < 2) {
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
  int64_t total_rows = rows;  // the rows behind the statistics: every process's with o.sync
  if (o.training) {
    std::vector<double> mean(c), variance(c);
    be.channel_moments(rows, c, x.data(), mean.data(), variance.data());
    if (o.sync != nullptr) {
      total_rows = global_moments(*o.sync, rows, mean, variance);
      if (total_rows < 2) {  // every process sees the same total: all throw together
        fail_expected("batch_norm", "at least 2 values per channel in training (over every process)",
                      std::to_string(total_rows) + " (input " + to_string(x.shape()) + " on this process)");
      }
    }
    float* mm = moving_mean.data();
    float* mv = moving_variance.data();
    const double unbias = static_cast<double>(total_rows) / static_cast<double>(total_rows - 1);
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
  BatchNormSync* sync = o.training ? o.sync : nullptr;
  record("batch_norm", {x, gamma, beta}, y,
         [x, gamma, mu, inv_std, rows, c, training, sync, total_rows](const Tensor& dy) {
           Tensor dx, dgamma = Tensor::empty({c}), dbeta = Tensor::empty({c});
           // With sync, every process takes part in the sums whether or not x needs a gradient here.
           if (x.requires_grad() || sync != nullptr) dx = Tensor::empty(x.shape());
           const Backend& be = backend_for(dy);
           be.batch_norm_backward({.rows = rows,
                                   .channels = c,
                                   .training = training && sync == nullptr,  // synchronised: global_dx's terms
                                   .mean = mu->data(),
                                   .inv_std = inv_std->data(),
                                   .gamma = gamma.data()},
                                  x.data(), dy.data(), dx.defined() ? dx.data() : nullptr, dgamma.data(), dbeta.data());
           if (sync != nullptr)
             global_dx(*sync, be, x, gamma.data(), mu->data(), inv_std->data(), total_rows, dgamma, dbeta, dx);
           if (!x.requires_grad()) dx = Tensor();
           return std::vector<Tensor>{dx, dgamma, dbeta};
         });
  return y;
}

}  // namespace nn
