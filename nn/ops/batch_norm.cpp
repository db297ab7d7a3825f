// batch_norm over the last axis of x (rows M = numel / C):
//   forward   y = γ·x̂ + β,  x̂ = (x − μ)·r,  r = 1/sqrt(σ² + ε)
//   backward  dβ = Σ dy,  dγ = Σ dy·x̂,
//             dx = γ·r·dy                                   (inference: μ, σ² are constants)
//             dx = γ·r/M · (M·dy − dβ − x̂·dγ)               (training: μ, σ² depend on x)
#include <cmath>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/cpu/pointwise.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

void check_channel_vector(const Tensor& t, int64_t channels, const char* what) {
  if (!t.defined() || t.shape() != Shape{channels}) {
    fail_expected("batch_norm", std::string(what) + " of shape [" + std::to_string(channels) + "]",
                  t.defined() ? to_string(t.shape()) : std::string("an undefined tensor"));
  }
}

// Per-channel mean and biased variance of x viewed as (rows, C), accumulated in double.
void batch_moments(const float* x, int64_t rows, int64_t c, std::vector<double>& mean, std::vector<double>& var) {
  mean.assign(c, 0.0);
  var.assign(c, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < c; ++j) mean[j] += x[r * c + j];
  for (int64_t j = 0; j < c; ++j) mean[j] /= static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < c; ++j) {
      double d = x[r * c + j] - mean[j];
      var[j] += d * d;
    }
  for (int64_t j = 0; j < c; ++j) var[j] /= static_cast<double>(rows);
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

  // μ and r = 1/sqrt(σ² + ε), from the batch or the moving statistics.
  auto mu = std::make_shared<std::vector<float>>(c);
  auto inv_std = std::make_shared<std::vector<float>>(c);
  if (o.training) {
    std::vector<double> mean, var;
    batch_moments(x.data(), rows, c, mean, var);
    float* mm = moving_mean.data();
    float* mv = moving_variance.data();
    const double unbias = static_cast<double>(rows) / static_cast<double>(rows - 1);
    for (int64_t j = 0; j < c; ++j) {
      (*mu)[j] = static_cast<float>(mean[j]);
      (*inv_std)[j] = static_cast<float>(1.0 / std::sqrt(var[j] + o.epsilon));
      mm[j] = o.momentum * mm[j] + (1.0f - o.momentum) * static_cast<float>(mean[j]);
      mv[j] = o.momentum * mv[j] + (1.0f - o.momentum) * static_cast<float>(var[j] * unbias);
    }
  } else {
    for (int64_t j = 0; j < c; ++j) {
      (*mu)[j] = moving_mean.data()[j];
      (*inv_std)[j] = 1.0f / std::sqrt(moving_variance.data()[j] + o.epsilon);
    }
  }

  Tensor y = Tensor::empty(x.shape());
  kernels::channel_affine(rows, c,
                          {.gamma = gamma.data(), .beta = beta.data(), .mean = mu->data(), .inv_std = inv_std->data()},
                          x.data(), y.data());

  const bool training = o.training;
  record("batch_norm", {x, gamma, beta}, y, [x, gamma, mu, inv_std, rows, c, training](const Tensor& dy) {
    const float *px = x.data(), *pdy = dy.data(), *m = mu->data(), *r = inv_std->data(), *pg = gamma.data();
    std::vector<double> sum_dy(c, 0.0), sum_dy_xhat(c, 0.0);
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < c; ++j) {
        double g = pdy[i * c + j];
        sum_dy[j] += g;
        sum_dy_xhat[j] += g * (px[i * c + j] - m[j]) * r[j];
      }
    Tensor dx, dgamma, dbeta;
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape());
      float* pdx = dx.data();
      const float inv_rows = 1.0f / static_cast<float>(rows);
#pragma omp parallel for if (rows * c > (1 << 16))
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < c; ++j) {
          float g = pdy[i * c + j];
          if (training) {
            float xhat = (px[i * c + j] - m[j]) * r[j];
            g -= (static_cast<float>(sum_dy[j]) + xhat * static_cast<float>(sum_dy_xhat[j])) * inv_rows;
          }
          pdx[i * c + j] = pg[j] * r[j] * g;
        }
    }
    dgamma = Tensor::empty({c});
    dbeta = Tensor::empty({c});
    for (int64_t j = 0; j < c; ++j) {
      dgamma.data()[j] = static_cast<float>(sum_dy_xhat[j]);
      dbeta.data()[j] = static_cast<float>(sum_dy[j]);
    }
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
  return y;
}

}  // namespace nn
