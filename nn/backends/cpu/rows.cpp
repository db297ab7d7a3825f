// The cpu backend's row primitives: batch norm's channel statistics, the embedding's lookup and gradient, the
// optimisers' updates, gradient norms and the fused softmax cross-entropy over rows. Contracts in
// nn/backends/backend.h; each loop is the one its op or optimiser ran before the table, thresholds included.
#include <cmath>
#include <cstring>
#include <vector>

#include "nn/backends/cpu/cpu.h"

#if defined(__SSE__)
#include <xmmintrin.h>  // _mm_getcsr/_mm_setcsr (baseline x86-64)
#endif

namespace nn::cpu {
namespace {

// Denormal floats flushed to zero (MXCSR's FTZ and DAZ) in the calling thread while it lives. Late in training the
// output layer's columns of rare words get gradients near 1e-20, whose squares (1e-40) are denormal, and every
// operation on a denormal costs a micro-code assist: on the Flickr8k captioner Adam's share of an epoch grew from 5 %
// to 18 % and epochs from 95 to 119 s. Values below 1.2e-38 have no effect on a step, so they are taken as zero.
struct FlushDenormals {
#if defined(__SSE__)
  unsigned saved = _mm_getcsr();
  FlushDenormals() {
    _mm_setcsr(saved | 0x8040);
  }  // FTZ (bit 15) | DAZ (bit 6)
  ~FlushDenormals() {
    _mm_setcsr(saved);
  }
#endif
};

}  // namespace

void channel_moments(int64_t rows, int64_t channels, const float* x, float* mean, float* variance) {
  // Two passes over x (rows, C) in row order, each accumulating every channel at once in double (vectorised along
  // the contiguous channels): the mean first, then the squared deviations from it.
  std::vector<double> sum(channels, 0.0), squares(channels, 0.0);
  double* s = sum.data();
  double* q = squares.data();
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * channels;
#pragma omp simd
    for (int64_t j = 0; j < channels; ++j) s[j] += row[j];
  }
  for (int64_t j = 0; j < channels; ++j) s[j] /= static_cast<double>(rows);
  for (int64_t r = 0; r < rows; ++r) {
    const float* row = x + r * channels;
#pragma omp simd
    for (int64_t j = 0; j < channels; ++j) {
      const double d = row[j] - s[j];
      q[j] += d * d;
    }
  }
  for (int64_t j = 0; j < channels; ++j) {
    mean[j] = static_cast<float>(s[j]);
    variance[j] = static_cast<float>(q[j] / static_cast<double>(rows));
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

// θ, m, v (n) updated in place from g (n), with denormals flushed in every thread that runs the loop (MXCSR is a
// thread's own).
void adam_update(const kernels::AdamStep& s, int64_t n, float* theta, float* m, float* v, const float* g) {
#pragma omp parallel if (n > (1 << 16))
  {
    FlushDenormals flush;
#pragma omp for
    for (int64_t i = 0; i < n; ++i) {
      if (s.shrink != 1.0f) theta[i] *= s.shrink;
      const float gi = s.coupled_decay != 0.0f ? g[i] + s.coupled_decay * theta[i] : g[i];
      m[i] = s.b1 * m[i] + (1.0f - s.b1) * gi;
      v[i] = s.b2 * v[i] + (1.0f - s.b2) * gi * gi;
      theta[i] -= s.step_size * m[i] / (std::sqrt(v[i]) / s.sqrt_bc2 + s.eps);
    }
  }
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

// The row's logsumexp as softmax_rows computes it: float exps of x − max, summed in double.
void cross_entropy_rows(const kernels::TargetRows& r, const float* x, float* lse, double* sums) {
  const int64_t v = r.classes;
  const float* w = r.weights;
  double weighted = 0, weight_total = 0;
#pragma omp parallel for reduction(+ : weighted, weight_total) if (r.rows * v > (1 << 15))
  for (int64_t i = 0; i < r.rows; ++i) {
    const float* xr = x + i * v;
    float max = xr[0];
    for (int64_t j = 1; j < v; ++j) max = std::fmax(max, xr[j]);
    double total = 0;
    for (int64_t j = 0; j < v; ++j) total += std::exp(xr[j] - max);
    lse[i] = max + static_cast<float>(std::log(total));
    const double wr = w ? w[i] : 1.0;
    weighted += wr * (lse[i] - xr[r.targets[i]]);
    weight_total += wr;
  }
  sums[0] = weighted;
  sums[1] = weight_total;
}

void cross_entropy_rows_backward(const kernels::TargetRows& r, float scale, const float* x, const float* lse,
                                 float* gx) {
  const int64_t v = r.classes;
#pragma omp parallel for if (r.rows * v > (1 << 15))
  for (int64_t i = 0; i < r.rows; ++i) {
    const float s = scale * (r.weights ? r.weights[i] : 1.0f);
    for (int64_t j = 0; j < v; ++j) gx[i * v + j] = s * std::exp(x[i * v + j] - lse[i]);
    gx[i * v + r.targets[i]] -= s;
  }
}

}  // namespace nn::cpu
