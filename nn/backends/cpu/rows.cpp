// The cpu backend's row primitives: batch norm's channel statistics, the embedding's lookup and gradient, the
// optimisers' updates, gradient norms and the fused softmax cross-entropy over rows. Contracts in
// nn/backends/backend.h. The cross-entropy, Adam and batch norm's statistics run the active instruction-set level's
// loops (rows_fast.cpp, adam_fast.cpp, pointwise_fast.cpp).
#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "nn/backends/cpu/channel_sums.h"
#include "nn/backends/cpu/cpu.h"
#include "nn/backends/cpu/pointwise.h"
#include "nn/backends/cpu/rows_fast.h"

namespace nn::cpu {

void channel_moments(int64_t rows, int64_t channels, const float* x, double* mean, double* variance) {
  // Two passes over x (rows, C) in row order, each accumulating every channel at once in double (the active level's
  // loop along the contiguous channels, pointwise_fast.cpp): the mean first, then the squared deviations from it.
  // Each pass over chunks of rows in parallel (channel_sums.h: the same bits on any thread count).
  std::vector<double> s = channel_sums(rows, channels, 1, [&](int64_t r0, int64_t r1, double* out) {
    kernels::channel_sums_rows(r0, r1, channels, x, nullptr, out);
  });
  for (int64_t j = 0; j < channels; ++j) s[j] /= static_cast<double>(rows);
  const std::vector<double> q = channel_sums(rows, channels, 1, [&](int64_t r0, int64_t r1, double* out) {
    kernels::channel_sums_rows(r0, r1, channels, x, s.data(), out);
  });
  for (int64_t j = 0; j < channels; ++j) {
    mean[j] = s[j];
    variance[j] = q[j] / static_cast<double>(rows);
  }
}

// out (count, width): one memcpy per row.
void gather_rows(int64_t count, const int32_t* ids, int64_t width, const float* table, float* out) {
  for (int64_t p = 0; p < count; ++p) {
    std::memcpy(out + p * width, table + static_cast<int64_t>(ids[p]) * width, sizeof(float) * width);
  }
}

// In position order, one thread: repeated ids add into the same row, so rows are not split among threads.
void scatter_add_rows(int64_t count, const int32_t* ids, int64_t width, const float* g, float* table_grad) {
  for (int64_t p = 0; p < count; ++p) {
    float* row = table_grad + static_cast<int64_t>(ids[p]) * width;
    const float* src = g + p * width;
    for (int64_t e = 0; e < width; ++e) row[e] += src[e];
  }
}

// θ, m, v (n) updated in place from g (n): the active instruction-set level's loop (adam_fast.cpp).
void adam_update(const kernels::AdamStep& s, int64_t n, float* theta, float* m, float* v, const float* g) {
  kernels::with_active_isa([&]<kernels::Isa isa> { kernels::adam_update<isa>(s, n, theta, m, v, g); });
}

namespace {

// Keras's velocity form, the buffer always written (μ = 0 keeps it at −lr·g, as Keras's).
void sgd_keras(const kernels::SgdStep& s, int64_t n, float* theta, float* velocity, const float* g) {
  const float lr = s.lr, mu = s.momentum, wd = s.weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    const float gi = wd != 0.0f ? g[i] + wd * theta[i] : g[i];
    velocity[i] = mu * velocity[i] - lr * gi;
    theta[i] += s.nesterov ? mu * velocity[i] - lr * gi : velocity[i];
  }
}

// PyTorch's form with dampening 0; the buffer is touched only with momentum.
void sgd_pytorch(const kernels::SgdStep& s, int64_t n, float* theta, float* buffer, const float* g) {
  const float lr = s.lr, mu = s.momentum, wd = s.weight_decay;
  for (int64_t i = 0; i < n; ++i) {
    float gi = wd != 0.0f ? g[i] + wd * theta[i] : g[i];
    if (mu != 0.0f) {
      buffer[i] = mu * buffer[i] + gi;
      gi = s.nesterov ? gi + mu * buffer[i] : buffer[i];
    }
    theta[i] -= lr * gi;
  }
}

}  // namespace

void sgd_update(const kernels::SgdStep& s, int64_t n, float* theta, float* buffer, const float* g) {
  if (s.keras_form) {
    sgd_keras(s, n, theta, buffer, g);
  } else {
    sgd_pytorch(s, n, theta, buffer, g);
  }
}

void rmsprop_update(const kernels::RmspropStep& s, int64_t n, float* theta, float* square_avg, float* grad_avg,
                    float* buffer, const float* g) {
  const float a = s.alpha, wd = s.weight_decay, mu = s.momentum;
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float gi = wd != 0.0f ? g[i] + wd * theta[i] : g[i];
    square_avg[i] = a * square_avg[i] + (1.0f - a) * gi * gi;
    float root;
    if (s.centered) {
      grad_avg[i] = a * grad_avg[i] + (1.0f - a) * gi;
      root = std::sqrt(square_avg[i] - grad_avg[i] * grad_avg[i]);
    } else {
      root = std::sqrt(square_avg[i]);
    }
    const float denominator = root + s.eps;
    if (mu > 0.0f) {
      buffer[i] = mu * buffer[i] + gi / denominator;
      theta[i] -= s.lr * buffer[i];
    } else {
      theta[i] -= s.lr * gi / denominator;
    }
  }
}

void adagrad_update(const kernels::AdagradStep& s, int64_t n, float* theta, float* sum, const float* g) {
  const float wd = s.weight_decay, eps = s.eps, lr = s.lr;
#pragma omp parallel for if (n > (1 << 16))
  for (int64_t i = 0; i < n; ++i) {
    const float gi = wd != 0.0f ? g[i] + wd * theta[i] : g[i];
    sum[i] += gi * gi;
    theta[i] -= lr * gi / (std::sqrt(sum[i]) + eps);
  }
}

// In element order, one thread: the norm is the same however many threads run.
void sum_squares(int64_t n, const float* x, double* total) {
  double t = *total;
  for (int64_t i = 0; i < n; ++i) t += static_cast<double>(x[i]) * x[i];
  *total = t;
}

// Stops at the first element that is not finite.
void all_finite(int64_t n, const float* x, bool* finite) {
  *finite = true;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(x[i])) {
      *finite = false;
      return;
    }
  }
}

// The row's logsumexp, float e^(x − max) summed in double, and its gradient: the active level's loops
// (rows_fast.cpp), 16 e^x at a time.
void cross_entropy_rows(const kernels::TargetRows& r, const float* x, float* lse, double* sums) {
  kernels::with_active_isa([&]<kernels::Isa isa> { kernels::cross_entropy_rows<isa>(r, x, lse, sums); });
}

void cross_entropy_rows_backward(const kernels::TargetRows& r, float scale, const float* x, const float* lse,
                                 float* gx) {
  kernels::with_active_isa([&]<kernels::Isa isa> { kernels::cross_entropy_rows_backward<isa>(r, scale, x, lse, gx); });
}

// Softmax, log-softmax and logsumexp over rows: the same loops, 16 e^x at a time (rows_fast.cpp).
void softmax_rows(kernels::RowSoftmax kind, int64_t rows, int64_t width, const float* x, float* y) {
  if (width == 0) {  // empty rows: nothing to normalise, and the log of an empty sum
    if (kind == kernels::RowSoftmax::logsumexp) std::fill_n(y, rows, -INFINITY);
    return;
  }
  kernels::with_active_isa([&]<kernels::Isa isa> { kernels::softmax_rows<isa>(kind, rows, width, x, y); });
}

namespace {

// log(1 + e^−x) for any x without overflow, and σ(−x) = e^−x / (1 + e^−x), its derivative's negation.
double softplus_neg(double x) {
  return std::log1p(std::exp(-std::fabs(x))) + std::fmax(-x, 0.0);
}
double sigmoid_neg(double x) {
  return x >= 0 ? std::exp(-x) / (1 + std::exp(-x)) : 1 / (1 + std::exp(x));
}

// log(v) clamped at −100, as PyTorch's binary_cross_entropy.
double clamped_log(double v) {
  return std::fmax(std::log(v), -100.0);
}

}  // namespace

void binary_cross_entropy(kernels::BinaryLoss kind, int64_t n, const float* x, const float* y, const float* pos_weight,
                          float* loss) {
  if (kind == kernels::BinaryLoss::logits) {
    for (int64_t i = 0; i < n; ++i) {
      const double log_weight = pos_weight ? 1 + (pos_weight[i] - 1.0) * y[i] : 1.0;
      loss[i] = static_cast<float>((1.0 - y[i]) * x[i] + log_weight * softplus_neg(x[i]));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      loss[i] = static_cast<float>(-(y[i] * clamped_log(x[i]) + (1.0 - y[i]) * clamped_log(1.0 - x[i])));
    }
  }
}

void binary_cross_entropy_backward(kernels::BinaryLoss kind, int64_t n, const float* g, const float* x, const float* y,
                                   const float* pos_weight, float* gx, float* gy) {
  if (kind == kernels::BinaryLoss::logits) {
    for (int64_t i = 0; i < n; ++i) {
      const double pw = pos_weight ? pos_weight[i] : 1.0;
      gx[i] = static_cast<float>(g[i] * ((1.0 - y[i]) - (1 + (pw - 1) * y[i]) * sigmoid_neg(x[i])));
      if (gy) gy[i] = static_cast<float>(g[i] * (-x[i] + (pw - 1) * softplus_neg(x[i])));
    }
  } else {
    for (int64_t i = 0; i < n; ++i) {
      const double pi = x[i];
      gx[i] = static_cast<float>(g[i] * (pi - y[i]) / std::fmax(pi * (1 - pi), 1e-12));
      if (gy) gy[i] = static_cast<float>(g[i] * (clamped_log(1 - pi) - clamped_log(pi)));
    }
  }
}

// Rows in parallel past 2^15 elements, each row's logsumexp as softmax_rows computes it.
void class_loss_rows(const kernels::ClassLoss& p, const float* x, float* lse, double* per_row) {
  const int64_t classes = p.classes;
  const float* w = p.class_weights;
#pragma omp parallel for if (p.rows * classes > (1 << 15))
  for (int64_t i = 0; i < p.rows; ++i) {
    const float* xi = x + i * classes;
    double row_lse = 0;
    if (p.logits) {
      float max = xi[0];
      for (int64_t c = 1; c < classes; ++c) max = std::fmax(max, xi[c]);
      double total = 0;
      for (int64_t c = 0; c < classes; ++c) total += std::exp(xi[c] - max);
      lse[i] = max + static_cast<float>(std::log(total));
      row_lse = lse[i];
    }
    per_row[i] = 0.0;
    if (p.ignored[i]) continue;
    per_row[i] = -p.a * p.target_weight[i] * (xi[p.targets[i]] - row_lse);
    if (p.b == 0) continue;
    double weighted_x = 0;
    for (int64_t c = 0; c < classes; ++c) weighted_x += (w ? w[c] : 1.0) * xi[c];
    per_row[i] += p.b * (p.class_weight_sum * row_lse - weighted_x);
  }
}

void class_loss_rows_backward(const kernels::ClassLoss& p, const float* g, int64_t g_stride, const float* x,
                              const float* lse, float* gx) {
  const int64_t classes = p.classes;
  const float* pw = p.class_weights;
#pragma omp parallel for if (p.logits && p.rows * classes > (1 << 15))
  for (int64_t i = 0; i < p.rows; ++i) {
    float* out = gx + i * classes;
    std::fill_n(out, classes, 0.0f);
    if (p.ignored[i]) continue;
    const double gi = g[i * g_stride];
    if (!p.logits) {
      out[p.targets[i]] = static_cast<float>(-p.a * p.target_weight[i] * gi);
      continue;
    }
    const double lse_i = lse[i];
    const double nll_coefficient = p.a * p.target_weight[i], smooth_coefficient = p.b * p.class_weight_sum;
    for (int64_t c = 0; c < classes; ++c) {
      const double prob = std::exp(x[i * classes + c] - lse_i);
      const double wc = pw ? pw[c] : 1.0;
      out[c] =
          static_cast<float>(gi * (nll_coefficient * prob + smooth_coefficient * prob - (p.b != 0 ? p.b * wc : 0.0)));
    }
    out[p.targets[i]] -= static_cast<float>(gi * nll_coefficient);
  }
}

// One row per iteration, in double (the loops layer_norm.cpp ran).
void layer_norm_rows(const kernels::RowNorm& p, const float* x, float* y, double* mean, double* inv_std) {
  const int64_t d = p.width;
  const float *pg = p.gamma, *pb = p.beta;
#pragma omp parallel for if (p.rows * d > (1 << 15))
  for (int64_t r = 0; r < p.rows; ++r) {
    const float* xr = x + r * d;
    double sum = 0.0, squares = 0.0;
    for (int64_t j = 0; j < d; ++j) sum += xr[j];
    const double mu = sum / static_cast<double>(d);
    for (int64_t j = 0; j < d; ++j) squares += (xr[j] - mu) * (xr[j] - mu);
    const double r_std = 1.0 / std::sqrt(squares / static_cast<double>(d) + p.epsilon);
    mean[r] = mu;
    inv_std[r] = r_std;
    for (int64_t j = 0; j < d; ++j) {
      const double x_hat = (xr[j] - mu) * r_std;
      y[r * d + j] = static_cast<float>(x_hat * (pg ? pg[j] : 1.0f) + (pb ? pb[j] : 0.0f));
    }
  }
}

void layer_norm_rows_backward(const kernels::RowNorm& p, const float* x, const float* dy, const double* mean,
                              const double* inv_std, float* dx, double* sum_dy_x_hat, double* sum_dy) {
  const int64_t d = p.width, rows = p.rows;
  const float* pg = p.gamma;
  if (dx != nullptr) {
#pragma omp parallel for if (rows * d > (1 << 15))
    for (int64_t r = 0; r < rows; ++r) {
      const double mu = mean[r], r_std = inv_std[r];
      double mean_g = 0.0, mean_g_x_hat = 0.0;
      for (int64_t j = 0; j < d; ++j) {
        const double g = dy[r * d + j] * (pg ? pg[j] : 1.0f);
        mean_g += g;
        mean_g_x_hat += g * (x[r * d + j] - mu) * r_std;
      }
      mean_g /= static_cast<double>(d);
      mean_g_x_hat /= static_cast<double>(d);
      for (int64_t j = 0; j < d; ++j) {
        const double g = dy[r * d + j] * (pg ? pg[j] : 1.0f);
        const double x_hat = (x[r * d + j] - mu) * r_std;
        dx[r * d + j] = static_cast<float>(r_std * (g - mean_g - x_hat * mean_g_x_hat));
      }
    }
  }
  if (sum_dy_x_hat == nullptr || sum_dy == nullptr) return;
  std::fill_n(sum_dy_x_hat, d, 0.0);
  std::fill_n(sum_dy, d, 0.0);
  for (int64_t r = 0; r < rows; ++r) {  // rows in order: the sums do not depend on the thread count
    for (int64_t j = 0; j < d; ++j) {
      sum_dy_x_hat[j] += dy[r * d + j] * (x[r * d + j] - mean[r]) * inv_std[r];
      sum_dy[j] += dy[r * d + j];
    }
  }
}

}  // namespace nn::cpu
