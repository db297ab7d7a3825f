// The reference backend's row primitives, optimiser updates, softmax cross-entropy rows and LSTM step: one element
// at a time, intermediate values in double, no threads. Contracts in nn/backends/backend.h; the LSTM step's in
// nn/backends/cpu/lstm_cell.h.
#include <algorithm>
#include <cmath>

#include "nn/backends/ref/ref.h"

namespace nn::ref {

void channel_moments(int64_t rows, int64_t channels, const float* x, double* mean, double* variance) {
  for (int64_t j = 0; j < channels; ++j) {
    double sum = 0.0;
    for (int64_t r = 0; r < rows; ++r) sum += x[r * channels + j];
    const double mu = sum / static_cast<double>(rows);
    double squares = 0.0;
    for (int64_t r = 0; r < rows; ++r) {
      const double d = x[r * channels + j] - mu;
      squares += d * d;
    }
    mean[j] = mu;
    variance[j] = squares / static_cast<double>(rows);
  }
}

// out (count, width) = table rows ids[p].
void gather_rows(int64_t count, const int32_t* ids, int64_t width, const float* table, float* out) {
  for (int64_t p = 0; p < count; ++p) {
    for (int64_t e = 0; e < width; ++e) out[p * width + e] = table[ids[p] * width + e];
  }
}

// table_grad row ids[p] += g row p, in position order.
void scatter_add_rows(int64_t count, const int32_t* ids, int64_t width, const float* g, float* table_grad) {
  for (int64_t p = 0; p < count; ++p) {
    for (int64_t e = 0; e < width; ++e) table_grad[ids[p] * width + e] += g[p * width + e];
  }
}

// θ ← shrink·θ;  g ← g + λθ;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  θ ← θ − step·m / (√v / √bc2 + ε).
void adam_update(const kernels::AdamStep& s, int64_t n, float* theta, float* m, float* v, const float* g) {
  for (int64_t i = 0; i < n; ++i) {
    double t = static_cast<double>(theta[i]) * s.shrink;
    const double gi = g[i] + static_cast<double>(s.coupled_decay) * t;
    m[i] = static_cast<float>(s.b1 * static_cast<double>(m[i]) + (1.0 - s.b1) * gi);
    v[i] = static_cast<float>(s.b2 * static_cast<double>(v[i]) + (1.0 - s.b2) * gi * gi);
    t -= s.step_size * static_cast<double>(m[i]) / (std::sqrt(static_cast<double>(v[i])) / s.sqrt_bc2 + s.eps);
    theta[i] = static_cast<float>(t);
  }
}

// g ← g + λθ, then Keras's velocity form or PyTorch's (dampening 0); in double, rounded at each store.
void sgd_update(const kernels::SgdStep& s, int64_t n, float* theta, float* buffer, const float* g) {
  for (int64_t i = 0; i < n; ++i) {
    double gi = g[i] + static_cast<double>(s.weight_decay) * theta[i];
    double t = theta[i];
    if (s.keras_form) {
      buffer[i] = static_cast<float>(static_cast<double>(s.momentum) * buffer[i] - static_cast<double>(s.lr) * gi);
      t += s.nesterov ? static_cast<double>(s.momentum) * buffer[i] - static_cast<double>(s.lr) * gi : buffer[i];
    } else {
      if (s.momentum != 0.0f) {
        buffer[i] = static_cast<float>(static_cast<double>(s.momentum) * buffer[i] + gi);
        gi = s.nesterov ? gi + static_cast<double>(s.momentum) * buffer[i] : buffer[i];
      }
      t -= static_cast<double>(s.lr) * gi;
    }
    theta[i] = static_cast<float>(t);
  }
}

void rmsprop_update(const kernels::RmspropStep& s, int64_t n, float* theta, float* square_avg, float* grad_avg,
                    float* buffer, const float* g) {
  const double a = s.alpha;
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i] + static_cast<double>(s.weight_decay) * theta[i];
    square_avg[i] = static_cast<float>(a * square_avg[i] + (1.0 - a) * gi * gi);
    double variance = square_avg[i];
    if (s.centered) {
      grad_avg[i] = static_cast<float>(a * grad_avg[i] + (1.0 - a) * gi);
      variance -= static_cast<double>(grad_avg[i]) * grad_avg[i];
    }
    const double denominator = std::sqrt(variance) + s.eps;
    if (s.momentum > 0.0f) {
      buffer[i] = static_cast<float>(static_cast<double>(s.momentum) * buffer[i] + gi / denominator);
      theta[i] = static_cast<float>(theta[i] - static_cast<double>(s.lr) * buffer[i]);
    } else {
      theta[i] = static_cast<float>(theta[i] - static_cast<double>(s.lr) * gi / denominator);
    }
  }
}

void adagrad_update(const kernels::AdagradStep& s, int64_t n, float* theta, float* sum, const float* g) {
  for (int64_t i = 0; i < n; ++i) {
    const double gi = g[i] + static_cast<double>(s.weight_decay) * theta[i];
    sum[i] = static_cast<float>(sum[i] + gi * gi);
    theta[i] = static_cast<float>(theta[i] - static_cast<double>(s.lr) * gi / (std::sqrt(sum[i]) + s.eps));
  }
}

void sum_squares(int64_t n, const float* x, double* total) {
  for (int64_t i = 0; i < n; ++i) *total += static_cast<double>(x[i]) * x[i];
}

void all_finite(int64_t n, const float* x, bool* finite) {
  *finite = true;
  for (int64_t i = 0; i < n; ++i) *finite = *finite && std::isfinite(x[i]);
}

// lse_r = log Σ_c exp(x_rc), the row's maximum taken out, all in double.
void cross_entropy_rows(const kernels::TargetRows& r, const float* x, float* lse, double* sums) {
  sums[0] = sums[1] = 0;
  for (int64_t i = 0; i < r.rows; ++i) {
    const float* xr = x + i * r.classes;
    double max = xr[0];
    for (int64_t c = 1; c < r.classes; ++c) max = std::max(max, static_cast<double>(xr[c]));
    double total = 0;
    for (int64_t c = 0; c < r.classes; ++c) total += std::exp(xr[c] - max);
    const double row_lse = max + std::log(total);
    lse[i] = static_cast<float>(row_lse);
    const double w = r.weights ? r.weights[i] : 1.0;
    sums[0] += w * (row_lse - xr[r.targets[i]]);
    sums[1] += w;
  }
}

void cross_entropy_rows_backward(const kernels::TargetRows& r, float scale, const float* x, const float* lse,
                                 float* gx) {
  for (int64_t i = 0; i < r.rows; ++i) {
    const double s = static_cast<double>(scale) * (r.weights ? r.weights[i] : 1.0);
    for (int64_t c = 0; c < r.classes; ++c) {
      const double p = std::exp(static_cast<double>(x[i * r.classes + c]) - lse[i]);
      gx[i * r.classes + c] = static_cast<float>(s * (p - (c == r.targets[i] ? 1.0 : 0.0)));
    }
  }
}

namespace {

double clamped_log(double v) {
  return std::max(std::log(v), -100.0);
}

double softplus(double v) {  // log(1 + eᵛ), stable
  return v > 0 ? v + std::log1p(std::exp(-v)) : std::log1p(std::exp(v));
}

}  // namespace

void binary_cross_entropy(kernels::BinaryLoss kind, int64_t n, const float* x, const float* y, const float* pos_weight,
                          float* loss) {
  for (int64_t i = 0; i < n; ++i) {
    const double xi = x[i], yi = y[i], p = pos_weight ? pos_weight[i] : 1.0;
    const double l = kind == kernels::BinaryLoss::logits ? (1 - yi) * xi + (1 + (p - 1) * yi) * softplus(-xi)
                                                         : -(yi * clamped_log(xi) + (1 - yi) * clamped_log(1 - xi));
    loss[i] = static_cast<float>(l);
  }
}

void binary_cross_entropy_backward(kernels::BinaryLoss kind, int64_t n, const float* g, const float* x, const float* y,
                                   const float* pos_weight, float* gx, float* gy) {
  for (int64_t i = 0; i < n; ++i) {
    const double xi = x[i], yi = y[i], p = pos_weight ? pos_weight[i] : 1.0;
    double dx, dy;
    if (kind == kernels::BinaryLoss::logits) {
      dx = (1 - yi) - (1 + (p - 1) * yi) * logistic(-xi);
      dy = -xi + (p - 1) * softplus(-xi);
    } else {
      dx = (xi - yi) / std::max(xi * (1 - xi), 1e-12);
      dy = clamped_log(1 - xi) - clamped_log(xi);
    }
    gx[i] = static_cast<float>(g[i] * dx);
    if (gy != nullptr) gy[i] = static_cast<float>(g[i] * dy);
  }
}

void class_loss_rows(const kernels::ClassLoss& p, const float* x, float* lse, double* per_row) {
  for (int64_t i = 0; i < p.rows; ++i) {
    const float* xi = x + i * p.classes;
    double row_lse = 0;
    if (p.logits) {
      double max = xi[0];
      for (int64_t c = 1; c < p.classes; ++c) max = std::max(max, static_cast<double>(xi[c]));
      double total = 0;
      for (int64_t c = 0; c < p.classes; ++c) total += std::exp(xi[c] - max);
      row_lse = max + std::log(total);
      lse[i] = static_cast<float>(row_lse);
    }
    per_row[i] = 0;
    if (p.ignored[i]) continue;
    double weighted_x = 0;
    for (int64_t c = 0; c < p.classes; ++c) weighted_x += (p.class_weights ? p.class_weights[c] : 1.0) * xi[c];
    per_row[i] =
        -p.a * p.target_weight[i] * (xi[p.targets[i]] - row_lse) + p.b * (p.class_weight_sum * row_lse - weighted_x);
  }
}

void class_loss_rows_backward(const kernels::ClassLoss& p, const float* g, int64_t g_stride, const float* x,
                              const float* lse, float* gx) {
  for (int64_t i = 0; i < p.rows; ++i) {
    for (int64_t c = 0; c < p.classes; ++c) {
      double d = 0;
      if (!p.ignored[i]) {
        const double target = c == p.targets[i] ? 1.0 : 0.0;
        const double wc = p.class_weights ? p.class_weights[c] : 1.0;
        if (p.logits) {
          const double prob = std::exp(static_cast<double>(x[i * p.classes + c]) - lse[i]);
          d = p.a * p.target_weight[i] * (prob - target) + p.b * (p.class_weight_sum * prob - wc);
        } else {
          d = -p.a * p.target_weight[i] * target;
        }
      }
      gx[i * p.classes + c] = static_cast<float>(g[i * g_stride] * d);
    }
  }
}

// μ, σ² (biased) and r = 1/sqrt(σ² + ε) per row; y = (x − μ)·r·γ + β.
void layer_norm_rows(const kernels::RowNorm& p, const float* x, float* y, double* mean, double* inv_std) {
  for (int64_t r = 0; r < p.rows; ++r) {
    double sum = 0.0;
    for (int64_t j = 0; j < p.width; ++j) sum += x[r * p.width + j];
    mean[r] = sum / static_cast<double>(p.width);
    double squares = 0.0;
    for (int64_t j = 0; j < p.width; ++j) {
      const double d = x[r * p.width + j] - mean[r];
      squares += d * d;
    }
    inv_std[r] = 1.0 / std::sqrt(squares / static_cast<double>(p.width) + static_cast<double>(p.epsilon));
    for (int64_t j = 0; j < p.width; ++j) {
      const double x_hat = (x[r * p.width + j] - mean[r]) * inv_std[r];
      const double gamma = p.gamma ? p.gamma[j] : 1.0, beta = p.beta ? p.beta[j] : 0.0;
      y[r * p.width + j] = static_cast<float>(gamma * x_hat + beta);
    }
  }
}

// dx_j = r/D·(D·g_j − Σ g − x̂_j·Σ g·x̂) with g = dy·γ; Σ_rows dy·x̂ and Σ_rows dy per column.
void layer_norm_rows_backward(const kernels::RowNorm& p, const float* x, const float* dy, const double* mean,
                              const double* inv_std, float* dx, double* sum_dy_x_hat, double* sum_dy) {
  const int64_t d = p.width;
  auto x_hat = [&](int64_t r, int64_t j) { return (x[r * d + j] - mean[r]) * inv_std[r]; };
  auto g = [&](int64_t r, int64_t j) { return dy[r * d + j] * (p.gamma ? static_cast<double>(p.gamma[j]) : 1.0); };
  for (int64_t r = 0; r < p.rows && dx != nullptr; ++r) {
    double sum_g = 0.0, sum_g_x_hat = 0.0;
    for (int64_t j = 0; j < d; ++j) {
      sum_g += g(r, j);
      sum_g_x_hat += g(r, j) * x_hat(r, j);
    }
    for (int64_t j = 0; j < d; ++j) {
      const double scaled = static_cast<double>(d) * g(r, j) - sum_g - x_hat(r, j) * sum_g_x_hat;
      dx[r * d + j] = static_cast<float>(inv_std[r] / static_cast<double>(d) * scaled);
    }
  }
  if (sum_dy_x_hat == nullptr || sum_dy == nullptr) return;
  for (int64_t j = 0; j < d; ++j) {
    sum_dy_x_hat[j] = 0.0;
    sum_dy[j] = 0.0;
    for (int64_t r = 0; r < p.rows; ++r) {
      sum_dy_x_hat[j] += dy[r * d + j] * x_hat(r, j);
      sum_dy[j] += dy[r * d + j];
    }
  }
}

namespace {

double gate_activation(double z, bool hard) {
  if (hard) return std::min(1.0, std::max(0.0, 0.2 * z + 0.5));
  return 1.0 / (1.0 + std::exp(-z));
}

// d activation / dz from the activation a.
double gate_derivative(double a, bool hard) {
  if (hard) return a > 0.0 && a < 1.0 ? 0.2 : 0.0;
  return a * (1.0 - a);
}

bool is_masked(const float* mask, int64_t row) {
  return mask != nullptr && mask[row] == 0.0f;
}

}  // namespace

// Per row n and unit j: i, f, o = σ(z), g = tanh(z_c), c = f·c_prev + i·g, h = o·tanh(c); the gates replaced by
// their activations. A masked row keeps (h_prev, c_prev) and gets zero gates.
void lstm_step_forward(const kernels::LstmStep& s, const float* mask, float* gates, const float* c_prev,
                       const float* h_prev, float* c, float* h) {
  const int64_t u = s.units;
  for (int64_t n = 0; n < s.rows; ++n) {
    float* z = gates + n * s.gate_stride;
    for (int64_t j = 0; j < u; ++j) {
      const float cp = c_prev[n * s.prev_stride + j];
      const float hp = h_prev[n * s.prev_stride + j];
      if (is_masked(mask, n)) {
        c[n * s.state_stride + j] = cp;
        h[n * s.state_stride + j] = hp;
        for (int k = 0; k < 4; ++k) z[k * u + j] = 0.0f;
        continue;
      }
      const double i = gate_activation(z[j], s.hard_sigmoid);
      const double f = gate_activation(z[u + j], s.hard_sigmoid);
      const double g = std::tanh(static_cast<double>(z[2 * u + j]));
      const double o = gate_activation(z[3 * u + j], s.hard_sigmoid);
      const double cell = f * cp + i * g;
      z[j] = static_cast<float>(i);
      z[u + j] = static_cast<float>(f);
      z[2 * u + j] = static_cast<float>(g);
      z[3 * u + j] = static_cast<float>(o);
      c[n * s.state_stride + j] = static_cast<float>(cell);
      h[n * s.state_stride + j] = static_cast<float>(o * std::tanh(cell));
    }
  }
}

// From the saved activations, c and c_prev, and the incoming dh, dc (N,U packed): d_gates = the pre-activation
// gradients (0 on masked rows), dc ← the gradient for c_prev, dh ← 0 on unmasked rows; masked rows keep dh and dc.
void lstm_step_backward(const kernels::LstmStep& s, const float* mask, const float* gates, const float* c,
                        const float* c_prev, float* dh, float* dc, float* d_gates) {
  const int64_t u = s.units;
  for (int64_t n = 0; n < s.rows; ++n) {
    const float* a = gates + n * s.gate_stride;
    float* dz = d_gates + n * s.gate_stride;
    for (int64_t j = 0; j < u; ++j) {
      if (is_masked(mask, n)) {
        for (int k = 0; k < 4; ++k) dz[k * u + j] = 0.0f;
        continue;
      }
      const double i = a[j], f = a[u + j], g = a[2 * u + j], o = a[3 * u + j];
      const double tanh_c = std::tanh(static_cast<double>(c[n * s.state_stride + j]));
      const double dh_j = dh[n * u + j];
      // c feeds h = o·tanh(c) and the next step's cell: dc_total = dc + dh·o·(1 − tanh²c).
      const double dcell = dc[n * u + j] + dh_j * o * (1.0 - tanh_c * tanh_c);
      dz[j] = static_cast<float>(dcell * g * gate_derivative(i, s.hard_sigmoid));
      dz[u + j] = static_cast<float>(dcell * c_prev[n * s.prev_stride + j] * gate_derivative(f, s.hard_sigmoid));
      dz[2 * u + j] = static_cast<float>(dcell * i * (1.0 - g * g));
      dz[3 * u + j] = static_cast<float>(dh_j * tanh_c * gate_derivative(o, s.hard_sigmoid));
      dc[n * u + j] = static_cast<float>(dcell * f);
      dh[n * u + j] = 0.0f;
    }
  }
}

}  // namespace nn::ref
