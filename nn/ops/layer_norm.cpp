// layer_norm over the last k axes of x: rows M = numel / D, D = the product of normalized_shape.
//   forward   y = γ·x̂ + β,  x̂ = (x − μ)·r,  r = 1/sqrt(σ² + ε)   (μ, σ² of each row; σ² biased)
//   backward  dβ = Σ_rows dy,  dγ = Σ_rows dy·x̂,
//             dx = r·(g − mean(g) − x̂·mean(g·x̂)),  g = dy·γ     (means over the row's D values)
#include <algorithm>
#include <memory>
#include <vector>

#include "nn/autograd/autograd.h"
#include "nn/backends/backend.h"
#include "nn/core/error.h"
#include "nn/ops/convert.h"
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
  if (detail::any_low_precision({x, gamma, beta})) {
    return layer_norm(detail::to_f32(x), normalized_shape, detail::to_f32(gamma), detail::to_f32(beta), epsilon)
        .to(detail::result_dtype({x, gamma, beta}));
  }
  const int k = static_cast<int>(normalized_shape.size());
  if (k < 1 || x.rank() < k || !std::equal(normalized_shape.begin(), normalized_shape.end(), x.shape().end() - k)) {
    fail_expected("layer_norm", "an input whose last axes are " + to_string(normalized_shape),
                  "input " + to_string(x.shape()));
  }
  check_affine(gamma, normalized_shape, "gamma");
  check_affine(beta, normalized_shape, "beta");
  if (!(epsilon >= 0.0f)) fail_expected("layer_norm", "epsilon ≥ 0", std::to_string(epsilon));
  const int64_t d = numel(normalized_shape);
  const kernels::RowNorm rows{.rows = d == 0 ? 0 : x.numel() / d,
                              .width = d,
                              .epsilon = epsilon,
                              .gamma = gamma.defined() ? gamma.data() : nullptr,
                              .beta = beta.defined() ? beta.data() : nullptr};

  auto stats = std::make_shared<RowStats>();
  stats->mean.resize(rows.rows);
  stats->inv_std.resize(rows.rows);
  Tensor y = Tensor::empty(x.shape());
  backend_for(x).layer_norm_rows(rows, x.data(), y.data(), stats->mean.data(), stats->inv_std.data());

  record("layer_norm", {x, gamma, beta}, y, [x, gamma, beta, stats, rows](const Tensor& dy) {
    Tensor dx, dgamma, dbeta;
    if (x.requires_grad()) dx = Tensor::empty(x.shape());
    const bool want_gamma = gamma.defined() && gamma.requires_grad();
    const bool want_beta = beta.defined() && beta.requires_grad();
    std::vector<double> sum_dy_x_hat, sum_dy;
    if (want_gamma || want_beta) {
      sum_dy_x_hat.resize(rows.width);
      sum_dy.resize(rows.width);
    }
    backend_for(x).layer_norm_rows_backward(
        rows, x.data(), dy.data(), stats->mean.data(), stats->inv_std.data(), dx.defined() ? dx.data() : nullptr,
        sum_dy.empty() ? nullptr : sum_dy_x_hat.data(), sum_dy.empty() ? nullptr : sum_dy.data());
    if (want_gamma) {
      dgamma = Tensor::empty(gamma.shape());
      std::transform(sum_dy_x_hat.begin(), sum_dy_x_hat.end(), dgamma.data(), [](double v) { return float(v); });
    }
    if (want_beta) {
      dbeta = Tensor::empty(beta.shape());
      std::transform(sum_dy.begin(), sum_dy.end(), dbeta.data(), [](double v) { return float(v); });
    }
    return std::vector<Tensor>{dx, dgamma, dbeta};
  });
  return y;
}

}  // namespace nn
