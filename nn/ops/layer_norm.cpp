// layer_norm over the last k axes of x: rows M = numel / D, D = the product of normalized_shape.
//   forward   y = γ·x̂ + β,  x̂ = (x − μ)·r,  r = 1/sqrt(σ² + ε)   (μ, σ² of each row; σ² biased)
//   backward  dβ = Σ_rows dy,  dγ = Σ_rows dy·x̂,
//             dx = r·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·γ     (means over the row's D values)
#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/core/error.h"
#include "nn/ops/ops.h"

namespace nn {

namespace {

void check_affine(const Tensor& t, const Shape& normalized_shape, const char* what) {
  if (t.defined() && t.shape() != normalized_shape) {
    fail_expected("layer_norm", std::string(what) + " of shape " + to_string(normalized_shape) + " or undefined",
                  to_string(t.shape()));
  }
}

struct RowStats {
  std::vector<double> mean, inv_std;  // μ and r per row
};

}  // namespace

Tensor layer_norm(const Tensor& x, const Shape& normalized_shape, const Tensor& gamma, const Tensor& beta,
                  float epsilon) {
  const int k = static_cast<int>(normalized_shape.size());
  if (k < 1 || x.rank() < k || !std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k)) {
    fail_expected("layer_norm", "an input whose last axes are " + to_string(normalized_shape),
                  "input " + to_string(x.shape()));
  }
  check_affine(gamma, normalized_shape, "gamma");
  check_affine(beta, normalized_shape, "beta");
  if (!(epsilon >= 0.0f)) fail_expected("layer_norm", "epsilon ≥ 0", std::to_string(epsilon));
  const int64_t d = numel(normalized_shape);
  const int64_t rows = d == 0 ? 0 : x.numel() / d;

  auto stats = std::make_shared<RowStats>();
  stats->mean.resize(rows);
  stats->inv_std.resize(rows);
  Tensor y = Tensor::empty(x.shape());
  const float* px = x.data();
  const float* pg = gamma.defined() ? gamma.data() : nullptr;
  const float* pb = beta.defined() ? beta.data() : nullptr;
  float* py = y.data();
#pragma omp parallel for if (rows * d > (1 << 15))
  for (int64_t r = 0; r < rows; ++r) {
    const float* xr = px + r * d;
    double sum = 0.0, squares = 0.0;
    for (int64_t j = 0; j < d; ++j) sum += xr[j];
    const double mu = sum / static_cast<double>(d);
    for (int64_t j = 0; j < d; ++j) squares += (xr[j] - mu) * (xr[j] - mu);
    const double inv_std = 1.0 / std::sqrt(squares / static_cast<double>(d) + epsilon);
    stats->mean[r] = mu;
    stats->inv_std[r] = inv_std;
    for (int64_t j = 0; j < d; ++j) {
      const double x_hat = (xr[j] - mu) * inv_std;
      py[r * d + j] = static_cast<float>(x_hat * (pg ? pg[j] : 1.0f) + (pb ? pb[j] : 0.0f));
    }
  }

  record("layer_norm", {x, gamma, beta}, y, [x, gamma, beta, stats, rows, d](const Tensor& dy) {
    Tensor dx, dgamma, dbeta;
    const float* px = x.data();
    const float* pdy = dy.data();
    const float* pg = gamma.defined() ? gamma.data() : nullptr;
    if (x.requires_grad()) {
      dx = Tensor::empty(x.shape());
      float* pdx = dx.data();
#pragma omp parallel for if (rows * d > (1 << 15))
      for (int64_t r = 0; r < rows; ++r) {
        const double mu = stats->mean[r], inv_std = stats->inv_std[r];
        double mean_g = 0.0, mean_g_x_hat = 0.0;
        for (int64_t j = 0; j < d; ++j) {
          const double g = pdy[r * d + j] * (pg ? pg[j] : 1.0f);
          mean_g += g;
          mean_g_x_hat += g * (px[r * d + j] - mu) * inv_std;
        }
        mean_g /= static_cast<double>(d);
        mean_g_x_hat /= static_cast<double>(d);
        for (int64_t j = 0; j < d; ++j) {
          const double g = pdy[r * d + j] * (pg ? pg[j] : 1.0f);
          const double x_hat = (px[r * d + j] - mu) * inv_std;
          pdx[r * d + j] = static_cast<float>(inv_std * (g - mean_g - x_hat * mean_g_x_hat));
        }
      }
    }
    const bool want_gamma = gamma.defined() && gamma.requires_grad();
    const bool want_beta = beta.defined() && beta.requires_grad();
    if (want_gamma || want_beta) {
      std::vector<double> sum_dy_x_hat(d, 0.0), sum_dy(d, 0.0);
      for (int64_t r = 0; r < rows; ++r) {
        for (int64_t j = 0; j < d; ++j) {
          sum_dy_x_hat[j] += pdy[r * d + j] * (px[r * d + j] - stats->mean[r]) * stats->inv_std[r];
          sum_dy[j] += pdy[r * d + j];
        }
      }
      if (want_gamma) {
        dgamma = Tensor::empty(gamma.shape());
        std::transform(sum_dy_x_hat.begin(), sum_dy_x_hat.end(), dgamma.data(), [](double v) { return float(v); });
      }
      if (want_beta) {
        dbeta = Tensor::empty(beta.shape());
        std::transform(sum_dy.begin(), sum_dy.end(), dbeta.data(), [](double v) { return float(v); });
      }
    }
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
  return y;
}

}  // namespace nn
